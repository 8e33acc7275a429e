/*
 * apps/fundload/web.h — `fundload --from-bootstrap`: the streaming ingress
 * (ingress.h) run inside a web process of a supervised web process group
 * (`role: ingress`, docs/supervisor.md "Web process groups"), over the
 * channels of xr_ingress_from_bootstrap() (execrpc/ingress.h) instead of a
 * lifecycle of its own. docs/fundload.md, "In a web process group".
 */
#ifndef XR_FL_WEB_H
#define XR_FL_WEB_H

/*
 * The program in that mode; argv[0] is "--from-bootstrap", then
 *   [--rules R] [--window N] [--batch N] [--stats] INPUT OUTPUT
 * (no --config: the keys and the workers' endpoints come on fd 3, their
 * changes on fd 4; the rules must be the workers' apps.fundload.rules).
 *
 * Sends READY (port 0), waits (30 s at most) until every execution slot
 * of the table is READY with a channel whose HELLO is done, then decides
 * INPUT (a file or a FIFO; the supervisor gives the process /dev/null as
 * stdin and stdout) into OUTPUT (created 0600 or truncated) exactly as `fundload --config`
 * would, each load on the worker its customer_id picks (FNV-1a-64, the
 * same rule as xr_lifecycle_pick()). Any change of a slot while the run
 * goes on (a worker draining, dead, restarted) ends the run with
 * XR_ERR_WORKER_FAILED: a customer's state never moves; so does a STOP
 * (XR_ERR_LIFECYCLE_NOT_READY). OUTPUT then holds the decisions of every
 * line before the first undecided one.
 *
 * Once the run ended and OUTPUT is closed it writes one line on stderr,
 *   fundload: done status=S lines=N invalid=N elapsed_ms=T
 * (S: the exit status `fundload --config` would have: 0, 65 for invalid
 * lines, else the error's category, after its diagnostic line; T: from
 * INPUT open, a FIFO's writer there, to the last decision written), the
 * --stats line after it, and stays up until the supervisor's STOP: then
 * STOPPED once its calls have completed, and exit 0 (a web process that
 * exits on its own would be restarted, deciding INPUT again). Returns the
 * exit status: 0 after STOP, 64 usage, the category of a bootstrap
 * failure (8).
 */
int xr_fl_web_main(int argc, char **argv);

#endif /* XR_FL_WEB_H */

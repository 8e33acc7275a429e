/*
 * bench/compare_grpc.cc — bench_compare's gRPC C++ rows (compare.h), built
 * only with -DXR_BENCH_GRPC=ON: the same echo.v1.Echo/Say as execrpc
 * (proto/echo/v1/echo.proto), insecure, on 127.0.0.1. Two servers (the
 * synchronous API with its thread pool, and the callback API), a
 * synchronous client (sequential calls) and a completion-queue client with
 * a fixed number of calls outstanding on one channel.
 */
#include <unistd.h>

#include <cstdio>
#include <memory>
#include <string>

#include <grpcpp/grpcpp.h>

#include "compare.h"
#include "echo/v1/echo.grpc.pb.h"

namespace {

using echo::v1::Echo;
using echo::v1::SayRequest;
using echo::v1::SayResponse;

class SyncEcho final : public Echo::Service {
	grpc::Status Say(grpc::ServerContext *, const SayRequest *req,
	    SayResponse *resp) override
	{
		resp->set_text(req->text());
		resp->set_worker_pid(static_cast<uint64_t>(getpid()));
		return grpc::Status::OK;
	}
};

class CallbackEcho final : public Echo::CallbackService {
	grpc::ServerUnaryReactor *Say(grpc::CallbackServerContext *ctx,
	    const SayRequest *req, SayResponse *resp) override
	{
		grpc::ServerUnaryReactor *r = ctx->DefaultReactor();

		resp->set_text(req->text());
		resp->set_worker_pid(static_cast<uint64_t>(getpid()));
		r->Finish(grpc::Status::OK);
		return r;
	}
};

SayRequest
say_request()
{
	SayRequest req;

	req.set_text(std::string(xrb_text, XRB_TEXT_LEN));
	return req;
}

std::unique_ptr<Echo::Stub>
stub_for(uint16_t port)
{
	std::string target = "127.0.0.1:" + std::to_string(port);

	return Echo::NewStub(grpc::CreateChannel(target,
	    grpc::InsecureChannelCredentials()));
}

/* One outstanding call of the completion-queue client. */
struct AsyncCall {
	grpc::ClientContext ctx;
	SayResponse resp;
	grpc::Status status;
	std::unique_ptr<grpc::ClientAsyncResponseReader<SayResponse>> rpc;
};

void
start_async(Echo::Stub *stub, const SayRequest &req, grpc::CompletionQueue *cq)
{
	AsyncCall *c = new AsyncCall;

	c->rpc = stub->PrepareAsyncSay(&c->ctx, req, cq);
	c->rpc->StartCall();
	c->rpc->Finish(&c->resp, &c->status, c);
}

/* `total` calls, `outstanding` at a time; seconds taken, or -1. */
double
async_batch(Echo::Stub *stub, unsigned outstanding, size_t total)
{
	grpc::CompletionQueue cq;
	SayRequest req = say_request();
	size_t started = 0, done = 0;
	bool failed = false;
	uint64_t t0 = xrb_now_ns();
	void *tag;
	bool ok;

	for (; started < total && started < outstanding; started++)
		start_async(stub, req, &cq);
	while (done < started && cq.Next(&tag, &ok)) {
		AsyncCall *c = static_cast<AsyncCall *>(tag);

		if (!ok || !c->status.ok()) {
			if (!failed)
				std::fprintf(stderr, "bench_compare: gRPC "
				    "async call: %s\n",
				    c->status.error_message().c_str());
			failed = true;
		}
		delete c;
		done++;
		if (!failed && started < total) {
			start_async(stub, req, &cq);
			started++;
		}
	}
	double s = static_cast<double>(xrb_now_ns() - t0) / 1e9;
	cq.Shutdown();
	while (cq.Next(&tag, &ok))
		;
	return failed ? -1 : s;
}

template <class Service>
int
serve(Service *svc, int port_fd)
{
	grpc::ServerBuilder b;
	int port = 0;

	b.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
	    &port);
	b.RegisterService(svc);
	std::unique_ptr<grpc::Server> server = b.BuildAndStart();
	if (!server || port <= 0 || port > 65535)
		return -1;
	uint16_t p = static_cast<uint16_t>(port);
	if (write(port_fd, &p, sizeof(p)) != static_cast<ssize_t>(sizeof(p)))
		return -1;
	close(port_fd);
	server->Wait();
	return 0;
}

} // namespace

extern "C" int
xrb_grpc_serve(int port_fd, void *arg)
{
	if (*static_cast<int *>(arg) == 0) {
		SyncEcho svc;
		return serve(&svc, port_fd);
	}
	CallbackEcho svc;
	return serve(&svc, port_fd);
}

extern "C" int
xrb_grpc_seq(uint16_t port, const xrb_sizes *z, xrb_result *r)
{
	std::unique_ptr<Echo::Stub> stub = stub_for(port);
	SayRequest req = say_request();
	uint64_t *lat = xrb_lat_alloc(z->seq);

	if (lat == nullptr)
		return -1;
	for (size_t i = 0; i < z->warmup + z->seq; i++) {
		grpc::ClientContext ctx;
		SayResponse resp;
		uint64_t t0 = xrb_now_ns();
		grpc::Status st = stub->Say(&ctx, req, &resp);

		if (!st.ok()) {
			std::fprintf(stderr, "bench_compare: gRPC call: %s\n",
			    st.error_message().c_str());
			free(lat);
			return -1;
		}
		if (i >= z->warmup)
			lat[i - z->warmup] = xrb_now_ns() - t0;
	}
	xrb_latency(lat, z->seq, r);
	free(lat);
	return 0;
}

extern "C" int
xrb_grpc_async(uint16_t port, unsigned outstanding, const xrb_sizes *z,
    xrb_result *r)
{
	std::unique_ptr<Echo::Stub> stub = stub_for(port);
	double s;

	if (async_batch(stub.get(), outstanding, z->warmup) < 0 ||
	    (s = async_batch(stub.get(), outstanding, z->async)) < 0)
		return -1;
	r->value = static_cast<double>(z->async) / s;
	r->p99 = 0;
	return 0;
}

extern "C" const char *
xrb_grpc_version(void)
{
	static std::string v = grpc::Version();

	return v.c_str();
}

/*
 * tests/sdk/consumer/kv_service.h — kv.v1.Kv as a service module
 * (execrpc/module.h), for the programs of this project.
 */
#ifndef KV_SERVICE_H
#define KV_SERVICE_H

#include <stddef.h>

#include <execrpc/module.h>

/* The module table: kv.v1.Kv. */
extern const xr_service_module kv_modules[];
extern const size_t kv_n_modules;

#endif /* KV_SERVICE_H */

/* server/bounds.c — per-field bounds on decoded protobuf-c messages. */
#include "bounds.h"

#include <stdio.h>
#include <string.h>

#include "err.h"

/* Bytes one element of a repeated field takes in protobuf-c's array. */
static size_t
elem_size(const ProtobufCFieldDescriptor *f)
{
	switch (f->type) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
	case PROTOBUF_C_TYPE_FLOAT:
	case PROTOBUF_C_TYPE_ENUM:
		return 4;
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
	case PROTOBUF_C_TYPE_DOUBLE:
		return 8;
	case PROTOBUF_C_TYPE_BOOL:
		return sizeof(protobuf_c_boolean);
	case PROTOBUF_C_TYPE_STRING:
		return sizeof(char *);
	case PROTOBUF_C_TYPE_BYTES:
		return sizeof(ProtobufCBinaryData);
	case PROTOBUF_C_TYPE_MESSAGE:
		return sizeof(ProtobufCMessage *);
	}
	return 0;
}

/* An integer field's value, sign-extended or not by its type. */
static int
int_value(const ProtobufCFieldDescriptor *f, const void *p, int64_t *s,
    uint64_t *u)
{
	int32_t i32;
	int64_t i64;
	uint32_t u32;
	uint64_t u64;

	switch (f->type) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
	case PROTOBUF_C_TYPE_ENUM:
		memcpy(&i32, p, sizeof(i32));
		*s = i32;
		*u = (uint64_t)(int64_t)i32;
		return 0;
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
		memcpy(&i64, p, sizeof(i64));
		*s = i64;
		*u = (uint64_t)i64;
		return 0;
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
		memcpy(&u32, p, sizeof(u32));
		*s = (int64_t)u32;
		*u = u32;
		return 0;
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		memcpy(&u64, p, sizeof(u64));
		*s = (int64_t)u64;
		*u = u64;
		return 0;
	default:
		return -1;
	}
}

static int
check_value(const ProtobufCMessage *msg, const ProtobufCFieldDescriptor *f,
    const xr_field_bound *r, const void *p, char *why, size_t cap)
{
	const char *mname = msg->descriptor->name;
	size_t len;
	int64_t s;
	uint64_t u;

	switch (r->kind) {
	case XR_FB_STRING: {
		const char *str = *(char *const *)p;

		len = str != NULL ? strlen(str) : 0;
		if (len > r->max)
			goto too_long;
		return XR_OK;
	}
	case XR_FB_BYTES:
	case XR_FB_BYTES_FIXED:
		len = ((const ProtobufCBinaryData *)p)->len;
		if (r->kind == XR_FB_BYTES && len > r->max)
			goto too_long;
		if (r->kind == XR_FB_BYTES_FIXED && len != 0 && len != r->max) {
			snprintf(why, cap, "field %s.%s is %zu bytes, not its "
			    "declared 0 or %u", mname, f->name, len, r->max);
			return XR_ERR_NO_SPACE;
		}
		return XR_OK;
	case XR_FB_INT:
	case XR_FB_UINT:
		if (int_value(f, p, &s, &u) != 0)
			return XR_ERR_INVALID_ARG;
		if (r->kind == XR_FB_INT && (s < r->lo || s > r->hi)) {
			snprintf(why, cap, "field %s.%s is %lld, outside its "
			    "declared %lld..%lld", mname, f->name, (long long)s,
			    (long long)r->lo, (long long)r->hi);
			return XR_ERR_NO_SPACE;
		}
		if (r->kind == XR_FB_UINT && u > (uint64_t)r->hi) {
			snprintf(why, cap, "field %s.%s is %llu, over its "
			    "declared %lld", mname, f->name, (unsigned long long)u,
			    (long long)r->hi);
			return XR_ERR_NO_SPACE;
		}
		return XR_OK;
	case XR_FB_MESSAGE: {
		const ProtobufCMessage *sub = *(ProtobufCMessage *const *)p;

		return sub != NULL && r->sub != NULL ?
		    xr_bounds_check(sub, r->sub, why, cap) : XR_OK;
	}
	default:
		return XR_OK;
	}
 too_long:
	snprintf(why, cap, "field %s.%s is %zu bytes, over its declared %u",
	    mname, f->name, len, r->max);
	return XR_ERR_NO_SPACE;
}

int
xr_bounds_check(const ProtobufCMessage *msg, const xr_bounds *b, char *why,
    size_t cap)
{
	const char *base = (const char *)msg;
	size_t i;

	if (msg == NULL || b == NULL || msg->descriptor == NULL ||
	    strcmp(msg->descriptor->name, b->name) != 0) {
		snprintf(why, cap, "bounds of %s for a message of another type",
		    b != NULL ? b->name : "(none)");
		return XR_ERR_INVALID_ARG;
	}
	for (i = 0; i < b->n_fields; i++) {
		const xr_field_bound *r = &b->fields[i];
		const ProtobufCFieldDescriptor *f =
		    protobuf_c_message_descriptor_get_field(msg->descriptor,
		    r->number);
		int ret;

		if (f == NULL) {
			snprintf(why, cap, "%s has no field %u", b->name,
			    r->number);
			return XR_ERR_INVALID_ARG;
		}
		if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) != 0 &&
		    *(const uint32_t *)(const void *)(base +
		    f->quantifier_offset) != f->id)
			continue;	/* another member of the oneof is set */
		if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			size_t n = *(const size_t *)(const void *)(base +
			    f->quantifier_offset), k, es = elem_size(f);
			const char *arr = *(char *const *)(const void *)(base +
			    f->offset);

			if (n > r->max_count) {
				snprintf(why, cap, "field %s.%s has %zu "
				    "elements, over its declared %u", b->name,
				    f->name, n, r->max_count);
				return XR_ERR_NO_SPACE;
			}
			if (r->count_exact && n != 0 && n != r->max_count) {
				snprintf(why, cap, "field %s.%s has %zu "
				    "elements, not its declared 0 or %u",
				    b->name, f->name, n, r->max_count);
				return XR_ERR_NO_SPACE;
			}
			for (k = 0; k < n && r->kind != XR_FB_COUNT; k++)
				if ((ret = check_value(msg, f, r, arr + k * es,
				    why, cap)) != XR_OK)
					return ret;
		} else if ((ret = check_value(msg, f, r, base + f->offset, why,
		    cap)) != XR_OK)
			return ret;
	}
	return XR_OK;
}

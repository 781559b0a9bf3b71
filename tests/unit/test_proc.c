#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "key.h"
#include "proc.h"
#include "table.h"

static int parse(const char *s, uint64_t *v)
{
	return proc_parse_starttime(s, strlen(s), v);
}

Test(proc, starttime_plain)
{
	uint64_t v = 0;
	const char *s = "1234 (bash) S 1 1234 1234 34816 1234 4194304 100 0 0 0 1 2 0 0 20 0 1 0 "
			"987654 1000 10 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0\n";

	cr_assert_eq(parse(s, &v), 0);
	cr_assert_eq(v, 987654);
}

Test(proc, starttime_hostile_comm)
{
	/* comm may contain spaces and ')' : only the last ')' ends it. */
	uint64_t v = 0;
	const char *s =
	    "77 (a) b) 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20) R 1 77 77 0 -1 "
	    "4194560 0 0 0 0 0 0 0 0 20 0 1 0 4242 0 0\n";

	cr_assert_eq(parse(s, &v), 0);
	cr_assert_eq(v, 4242);
}

Test(proc, starttime_rejects_garbage)
{
	uint64_t v;

	cr_assert_eq(parse("", &v), -EINVAL);
	cr_assert_eq(parse("1 (x", &v), -EINVAL);
	cr_assert_eq(parse("1 (x) S 1 2", &v), -EINVAL);
	cr_assert_eq(parse("1 (x) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 x1", &v), -EINVAL);
	cr_assert_eq(parse("1 (x) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 "
			   "99999999999999999999999",
			   &v),
		     -EINVAL);
}

Test(proc, starttime_of_self_is_stable)
{
	uint64_t a = 0, b = 0;

	cr_assert_eq(proc_starttime(getpid(), &a), 0);
	cr_assert_eq(proc_starttime(getpid(), &b), 0);
	cr_assert_eq(a, b);
	cr_assert_gt(a, 0);
	cr_assert_eq(proc_starttime(-1, &a), -ESRCH);
	cr_assert_eq(proc_is_kthread(getpid()), 0);
}

Test(proc, uid_of_self)
{
	uid_t uid = (uid_t)-1;

	cr_assert_eq(proc_uid(getpid(), &uid), 0);
	cr_assert_eq(uid, getuid());
}

Test(key, parse)
{
	int k = 0;

	cr_assert_eq(key_parse("0x5098", &k), 0);
	cr_assert_eq(k, 0x5098);
	cr_assert_eq(key_parse("5095", &k), 0);
	cr_assert_eq(k, 0x5095);
	cr_assert_eq(key_parse("0X7fffffff", &k), 0);
	cr_assert_eq(key_parse("0", &k), -EINVAL);
	cr_assert_eq(key_parse("", &k), -EINVAL);
	cr_assert_eq(key_parse("-1", &k), -EINVAL);
	cr_assert_eq(key_parse("0x80000000", &k), -EINVAL);
	cr_assert_eq(key_parse("12g", &k), -EINVAL);
	cr_assert_eq(key_parse(" 12", &k), -EINVAL);
}

Test(name, validate)
{
	char longest[HB_NAME_MAX + 1], too_long[HB_NAME_MAX + 2];

	memset(longest, 'a', HB_NAME_MAX);
	longest[HB_NAME_MAX] = '\0';
	memset(too_long, 'a', HB_NAME_MAX + 1);
	too_long[HB_NAME_MAX + 1] = '\0';
	cr_assert_eq(name_validate("worker"), 0);
	cr_assert_eq(name_validate("web@1.svc:x-y_z"), 0);
	cr_assert_eq(name_validate(longest), 0);
	cr_assert_eq(name_validate(too_long), -EINVAL);
	cr_assert_eq(name_validate(""), -EINVAL);
	cr_assert_eq(name_validate(NULL), -EINVAL);
	cr_assert_eq(name_validate("a b"), -EINVAL);
	cr_assert_eq(name_validate("a/b"), -EINVAL);
	cr_assert_eq(name_validate("a\nb"), -EINVAL);
	cr_assert_eq(name_validate("caf\xc3\xa9"), -EINVAL);
}

/* A table image in ordinary memory, for the validator. */
static void *image(uint32_t slots, size_t *size)
{
	struct hb_header *h;

	*size = table_size(slots);
	h = aligned_alloc(64, *size);
	memset(h, 0, *size);
	h->magic = HB_TABLE_MAGIC;
	h->version = HB_TABLE_VERSION;
	h->header_size = sizeof(struct hb_header);
	h->slot_size = sizeof(struct hb_slot);
	h->slot_count = slots;
	return h;
}

Test(table, validate_accepts_good)
{
	size_t size;
	void *m = image(16, &size);

	cr_assert_eq(table_validate(m, size, NULL, 0), 0);
	free(m);
}

Test(table, validate_refuses_each_field)
{
	char why[256];
	size_t size;
	struct hb_header *h = image(16, &size);

	h->version = 2;
	cr_assert_eq(table_validate(h, size, why, sizeof(why)), -EPROTO);
	cr_assert(strstr(why, "version 2"), "%s", why);
	h->version = HB_TABLE_VERSION;
	h->slot_size = 64;
	cr_assert_eq(table_validate(h, size, why, sizeof(why)), -EPROTO);
	h->slot_size = sizeof(struct hb_slot);
	h->slot_count = 17;
	cr_assert_eq(table_validate(h, size, why, sizeof(why)), -EPROTO);
	cr_assert(strstr(why, "too small"), "%s", why);
	h->slot_count = 0;
	cr_assert_eq(table_validate(h, size, why, sizeof(why)), -EPROTO);
	h->slot_count = 16;
	cr_assert_eq(table_validate(h, 10, why, sizeof(why)), -EPROTO);
	h->magic = 0;
	cr_assert_eq(table_validate(h, size, why, sizeof(why)), -EPROTO);
	cr_assert(strstr(why, "no hbwatch header"), "%s", why);
	free(h);
}

Test(table, validate_names_legacy_layout)
{
	char why[512];
	void *m = calloc(1, HB_LEGACY_TABLE_SIZE);

	cr_assert_eq(table_validate(m, HB_LEGACY_TABLE_SIZE, why, sizeof(why)), -EPROTO);
	cr_assert(strstr(why, "CPActive"), "%s", why);
	cr_assert(strstr(why, "[legacy]"), "%s", why);
	free(m);
}

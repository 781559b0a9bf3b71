/* registry_validate() and record_validate() on segment images in ordinary
 * memory: whatever sits at the key or behind an announced shmid may be
 * anything, and the only thing either may do with it is say what it is.
 * Plus record_read() of an image written by record_set(), bounded by the
 * geometry decided from the image's size whatever its owner writes later. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "record.h"
#include "registry.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* A zeroed, cache-line aligned image of SIZE bytes (at least one line, so
 * a header can be written into it even when SIZE says it is shorter). */
static void *image(size_t size)
{
	size_t alloc = (size < 4096 ? 4096 : size + 63) / 64 * 64;
	void *m = aligned_alloc(64, alloc);

	cr_assert_not_null(m);
	memset(m, 0, alloc);
	return m;
}

/* The geometry of the record image R of SIZE bytes, as an attach decides it. */
static struct hb_record_map map_of(void *r, size_t size)
{
	struct hb_record_map m = {0};
	char why[256] = "";

	cr_assert_eq(record_geometry(r, size, &m, why, sizeof(why)), 0, "%s", why);
	m.rec = r;
	return m;
}

static void registry_header(void *m, uint32_t ring_size)
{
	struct hb_registry_header *h = m;

	h->magic = HB_REGISTRY_MAGIC;
	h->version = HB_REGISTRY_VERSION;
	h->header_size = sizeof(*h);
	h->ring_size = ring_size;
	h->created_ns = UINT64_C(1700000000000000000);
}

Test(registry, sizes)
{
	cr_expect_eq(registry_size(64), 64 + 64 * 8);
	cr_expect_eq(registry_size(65536), 64 + 65536 * 8);
	cr_expect_eq(registry_ring_size(0), HB_RING_MIN);
	cr_expect_eq(registry_ring_size(1), HB_RING_MIN);
	cr_expect_eq(registry_ring_size(64), 64);
	cr_expect_eq(registry_ring_size(65), 128);
	cr_expect_eq(registry_ring_size(1024), 1024);
	cr_expect_eq(registry_ring_size(1025), 2048);
	cr_expect_eq(registry_ring_size(65536), HB_RING_MAX);
	cr_expect_eq(registry_ring_size(UINT32_MAX), HB_RING_MAX);
}

Test(registry, validate_accepts_good)
{
	static const uint32_t rings[] = {HB_RING_MIN, 128, 1024, HB_RING_MAX};

	for (size_t i = 0; i < ARRAY_SIZE(rings); i++) {
		size_t size = registry_size(rings[i]);
		void *m = image(size);
		struct hb_registry_header copy;
		char why[256] = "untouched";

		registry_header(m, rings[i]);
		memset(&copy, 0xaa, sizeof(copy));
		cr_expect_eq(registry_validate(m, size, &copy, why, sizeof(why)), 0, "ring %u: %s",
			     rings[i], why);
		cr_expect_eq(memcmp(&copy, m, sizeof(copy)), 0, "ring %u: the copy differs",
			     rings[i]);
		/* Segments are often larger than asked (page rounding by a
		 * creator): room to spare is fine. */
		cr_expect_eq(registry_validate(m, size + 4096 - size % 4096, NULL, NULL, 0), 0);
		free(m);
	}
}

/* How a case spoils a valid image of a 64-entry ring. */
enum spoil {
	NONE,
	ZEROED,	       /* no header at all */
	MAGIC_OTHER,   /* a foreign program's header */
	MAGIC_V1,      /* hbwatch 0.1's table */
	MAGIC_RECORD,  /* a heartbeat record where the registry should be */
	CPACTIVE,      /* no header, 72000 bytes: a classic table */
	CPACTIVE_BUSY, /* the same, with records in it */
	VERSION,       /* another layout */
	HEADER_SIZE,   /* another header size */
	RING,	       /* ring_size = VALUE */
	RING_TOO_BIG,  /* ring_size = VALUE, size of the 64-entry ring */
};

struct registry_case {
	const char *what;
	enum spoil spoil;
	uint32_t value;
	size_t size;	    /* of the segment */
	const char *why[3]; /* substrings of the reason */
};

/* The size of a registry with a 64-entry ring. */
#define REG64 (64 + 64 * 8)

static const struct registry_case registry_cases[] = {
    {"empty", NONE, 0, 0, {"segment is 0 bytes, smaller than an hbwatch header"}},
    {"one byte", NONE, 0, 1, {"segment is 1 bytes, smaller than an hbwatch header"}},
    {"half a header", NONE, 0, 32, {"segment is 32 bytes"}},
    {"one byte short of a header", NONE, 0, 63, {"segment is 63 bytes"}},
    {"foreign magic",
     MAGIC_OTHER,
     0,
     REG64,
     {"no hbwatch header (magic 0123456789abcdef)", "belongs to another program",
      "choose another key"}},
    {"foreign, zeroed", ZEROED, 0, 4096, {"4096 bytes with no hbwatch header"}},
    {"hbwatch 0.1 table",
     MAGIC_V1,
     0,
     REG64,
     {"hbwatch 0.1 heartbeat table", "restart hbwatch to replace it", "'hbctl remove'"}},
    {"hbwatch 0.1 table, CPActive size",
     MAGIC_V1,
     0,
     HB_LEGACY_TABLE_SIZE,
     {"hbwatch 0.1 heartbeat table"}},
    {"a heartbeat record", MAGIC_RECORD, 0, HB_RECORD_SIZE, {"no hbwatch header"}},
    {"classic table",
     CPACTIVE,
     0,
     HB_LEGACY_TABLE_SIZE,
     {"72000 bytes", "classic CPActive heartbeat table", "[legacy]"}},
    {"classic table in use",
     CPACTIVE_BUSY,
     0,
     HB_LEGACY_TABLE_SIZE,
     {"classic CPActive heartbeat table", "key= in [hbwatch]"}},
    {"classic table, one byte short",
     CPACTIVE,
     0,
     HB_LEGACY_TABLE_SIZE - 1,
     {"belongs to another program"}},
    {"version 1", VERSION, 1, REG64, {"hbwatch registry layout 1", "this build speaks 2"}},
    {"version 3", VERSION, 3, REG64, {"hbwatch registry layout 3", "this build speaks 2"}},
    {"header 128 bytes", HEADER_SIZE, 128, REG64, {"(header 128 bytes)"}},
    {"header 0 bytes", HEADER_SIZE, 0, REG64, {"(header 0 bytes)"}},
    {"ring 0", RING, 0, REG64, {"ring size 0 is not a power of two in 64..65536"}},
    {"ring 1", RING, 1, REG64, {"ring size 1 is not a power of two in 64..65536"}},
    {"ring 32", RING, 32, REG64, {"ring size 32 "}},
    {"ring 63", RING, 63, REG64, {"ring size 63 "}},
    {"ring 100", RING, 100, REG64, {"ring size 100 "}},
    {"ring 65535", RING, 65535, REG64, {"ring size 65535 "}},
    {"ring 131072", RING, 131072, REG64, {"ring size 131072 "}},
    {"ring 2^31", RING, UINT32_C(1) << 31, REG64, {"ring size 2147483648 "}},
    {"ring 2^32-1", RING, UINT32_MAX, REG64, {"ring size 4294967295 "}},
    {"ring 128 in room for 64",
     RING_TOO_BIG,
     128,
     REG64,
     {"segment is 576 bytes, too small for a ring of 128 (1088 bytes)"}},
    {"ring 65536 in room for 64", RING_TOO_BIG, 65536, REG64, {"too small for a ring of 65536"}},
    {"ring 64, one entry short",
     RING_TOO_BIG,
     64,
     64 + 63 * 8,
     {"segment is 568 bytes, too small for a ring of 64 (576 bytes)"}},
    {"header only", RING_TOO_BIG, 64, 64, {"segment is 64 bytes, too small"}},
};

Test(registry, validate_refuses)
{
	for (size_t i = 0; i < ARRAY_SIZE(registry_cases); i++) {
		const struct registry_case *c = &registry_cases[i];
		size_t size = c->size;
		void *m = image(size);
		struct hb_registry_header *h = m, copy, before;
		char why[512] = "";

		registry_header(m, 64);
		switch (c->spoil) {
		case NONE:
			break;
		case ZEROED:
			memset(m, 0, size);
			break;
		case MAGIC_OTHER:
			h->magic = UINT64_C(0x0123456789abcdef);
			break;
		case MAGIC_V1:
			h->magic = HB_TABLE_V1_MAGIC;
			break;
		case MAGIC_RECORD:
			memset(m, 0, size);
			h->magic = HB_RECORD_MAGIC;
			break;
		case CPACTIVE:
			memset(m, 0, size);
			break;
		case CPACTIVE_BUSY:
			memset(m, 0, size);
			/* { int pid; char pname[51]; ... } of pid 4242, "server01" */
			memcpy(m, "\x92\x10\0\0server01", 12);
			break;
		case VERSION:
			h->version = c->value;
			break;
		case HEADER_SIZE:
			h->header_size = c->value;
			break;
		case RING:
		case RING_TOO_BIG:
			h->ring_size = c->value;
			break;
		}
		memset(&copy, 0x5a, sizeof(copy));
		before = copy;
		cr_expect_eq(registry_validate(m, size, &copy, why, sizeof(why)), -EPROTO,
			     "%s: accepted", c->what);
		for (size_t k = 0; k < ARRAY_SIZE(c->why) && c->why[k]; k++)
			cr_expect(strstr(why, c->why[k]), "%s: \"%s\" does not say \"%s\"", c->what,
				  why, c->why[k]);
		/* A refused header is never handed out. */
		cr_expect_eq(memcmp(&copy, &before, sizeof(copy)), 0, "%s: copy written", c->what);
		/* No reason wanted: same verdict. */
		cr_expect_eq(registry_validate(m, size, NULL, NULL, 0), -EPROTO, "%s", c->what);
		free(m);
	}
}

/* The 0.1 magic really is the bytes "BWATCH01" as hbwatch 0.1 wrote them,
 * and the registry's "HBWREG02": what another build or a hexdump sees. */
Test(registry, magics_spelled_out)
{
	uint64_t v1 = HB_TABLE_V1_MAGIC, reg = HB_REGISTRY_MAGIC, rec = HB_RECORD_MAGIC;

	cr_expect_eq(memcmp(&v1, "BWATCH01", 8), 0);
	cr_expect_eq(memcmp(&reg, "HBWREG02", 8), 0);
	cr_expect_eq(memcmp(&rec, "HBWREC01", 8), 0);
}

/* A short reason buffer is truncated, never overrun. */
Test(registry, short_reason_buffer)
{
	void *m = image(4096);
	char why[17];

	memset(why, 'x', sizeof(why));
	cr_expect_eq(registry_validate(m, 4096, NULL, why, 8), -EPROTO);
	cr_expect_eq(strlen(why), 7);
	cr_expect_eq(why[8], 'x');
	free(m);
}

static void record_header(void *m)
{
	struct hb_record *r = m;

	r->magic = HB_RECORD_MAGIC;
	record_layout_init(r);
	r->flags = HB_RECORD_SELF;
	r->pid = 4242;
	r->start_time = 987654;
}

Test(record, validate_accepts_good)
{
	void *m = image(HB_RECORD_SIZE);
	char why[256] = "";

	record_header(m);
	cr_expect_eq(record_validate(m, HB_RECORD_SIZE, why, sizeof(why)), 0, "%s", why);
	cr_expect_eq(record_validate(m, HB_RECORD_SIZE, NULL, 0), 0);
	free(m);
	m = image(2 * HB_RECORD_SIZE);
	record_header(m);
	cr_expect_eq(record_validate(m, 2 * HB_RECORD_SIZE, why, sizeof(why)), 0,
		     "a larger segment: %s", why);
	free(m);
}

struct record_case {
	const char *what;
	uint64_t magic; /* 0: the record magic */
	uint32_t version, size;
	size_t seg; /* the segment's size */
	const char *why[2];
};

#define GOOD HB_RECORD_VERSION, HB_RECORD_SIZE

static const struct record_case record_cases[] = {
    {"empty", 0, GOOD, 0, {"segment is 0 bytes, smaller than a heartbeat record"}},
    {"one byte", 0, GOOD, 1, {"segment is 1 bytes, smaller than a heartbeat record"}},
    {"one byte short of the layout",
     0,
     GOOD,
     sizeof(struct hb_record) - 1,
     {"segment is 255 bytes"}},
    {"the registry",
     HB_REGISTRY_MAGIC,
     GOOD,
     HB_RECORD_SIZE,
     {"no heartbeat record header (magic 3230474552574248)"}},
    {"hbwatch 0.1 table",
     HB_TABLE_V1_MAGIC,
     GOOD,
     HB_RECORD_SIZE,
     {"no heartbeat record header (magic 3130484354415742)"}},
    {"classic table",
     UINT64_MAX,
     0,
     0,
     HB_LEGACY_TABLE_SIZE,
     {"no heartbeat record header (magic ffffffffffffffff)"}},
    {"version 0",
     0,
     0,
     HB_RECORD_SIZE,
     HB_RECORD_SIZE,
     {"heartbeat record layout 0 of 8192 bytes", "this build speaks 2 of 8192"}},
    {"version 3", 0, 3, HB_RECORD_SIZE, HB_RECORD_SIZE, {"heartbeat record layout 3 of 8192"}},
    {"size field 256", 0, HB_RECORD_VERSION, 256, HB_RECORD_SIZE, {"layout 2 of 256 bytes"}},
    {"size field 16384", 0, HB_RECORD_VERSION, 16384, 16384, {"layout 2 of 16384 bytes"}},
    {"layout 1 of 8192 bytes", 0, 1, HB_RECORD_SIZE, HB_RECORD_SIZE, {"layout 1 of 8192"}},
    {"layout 2 of 4096 bytes", 0, 2, HB_RECORD_V1_SIZE, HB_RECORD_V1_SIZE, {"layout 2 of 4096"}},
    {"layout 1 cut short", 0, 1, HB_RECORD_V1_SIZE, HB_RECORD_V1_SIZE - 1, {"layout 1 of 4096"}},
    /* A good header in a segment cut short of the layout's 8192 bytes. */
    {"truncated to 256", 0, GOOD, 256, {NULL}},
    {"truncated to 4096", 0, GOOD, HB_RECORD_V1_SIZE, {NULL}},
    {"truncated to 8191", 0, GOOD, HB_RECORD_SIZE - 1, {NULL}},
};

Test(record, validate_refuses)
{
	for (size_t i = 0; i < ARRAY_SIZE(record_cases); i++) {
		const struct record_case *c = &record_cases[i];
		void *m = image(c->seg);
		struct hb_record *r = m;
		char why[512] = "";

		record_header(m);
		if (c->magic == UINT64_MAX)
			memset(m, 0xff, c->seg); /* a classic table full of junk */
		else if (c->magic)
			r->magic = c->magic;
		if (c->magic != UINT64_MAX) {
			r->version = c->version;
			r->size = c->size;
		}
		cr_expect_eq(record_validate(m, c->seg, why, sizeof(why)), -EPROTO, "%s: accepted",
			     c->what);
		cr_expect(why[0] != '\0', "%s: no reason", c->what);
		for (size_t k = 0; k < ARRAY_SIZE(c->why) && c->why[k]; k++)
			cr_expect(strstr(why, c->why[k]), "%s: \"%s\" does not say \"%s\"", c->what,
				  why, c->why[k]);
		cr_expect_eq(record_validate(m, c->seg, NULL, 0), -EPROTO, "%s", c->what);
		free(m);
	}
}

/* Layout 2 says where its task slots are; anything else is refused. */
Test(record, validate_task_slots)
{
	static const uint32_t bad[][3] = {
	    {0, HB_TASK_SLOTS, 64},
	    {128, HB_TASK_SLOTS, 64},
	    {HB_TASK_OFFSET, 0, 64},
	    {HB_TASK_OFFSET, 125, 64},
	    {HB_TASK_OFFSET, HB_TASK_SLOTS, 32},
	    {HB_TASK_OFFSET, HB_TASK_SLOTS, 128},
	};
	struct hb_record *r = image(HB_RECORD_SIZE);
	char why[256] = "";

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		record_header(r);
		r->task_offset = bad[i][0];
		r->task_count = bad[i][1];
		r->task_size = bad[i][2];
		cr_expect_eq(record_validate(r, HB_RECORD_SIZE, why, sizeof(why)), -EPROTO,
			     "task slots %u/%u/%u accepted", bad[i][0], bad[i][1], bad[i][2]);
		cr_expect(strstr(why, "task slots"), "%s", why);
	}
	free(r);
}

/* A 0.2 client's record (layout 1, 4 KiB) is read, without tasks or
 * extension whatever its reserved words hold. */
Test(record, layout1_read)
{
	struct hb_record *r = image(HB_RECORD_V1_SIZE);
	struct hb_record_view v;
	struct hb_task_view t[4];

	record_header(r);
	r->version = 1;
	r->size = HB_RECORD_V1_SIZE;
	r->task_offset = r->task_count = r->task_size = 0;
	cr_expect_eq(record_validate(r, HB_RECORD_V1_SIZE, NULL, 0), 0);
	struct hb_record_map m = map_of(r, HB_RECORD_V1_SIZE);
	cr_expect_eq(m.layout, 1);
	cr_expect_eq(m.task_cap, 0);
	record_set(r, HB_RECORD_OPEN, UINT64_C(1000000000), "old");
	atomic_store(&r->task_high, 9);
	atomic_store(&r->ext_at_ns, 5);
	atomic_store(&r->ext_until_ns, 50);
	cr_assert_eq(record_read(&m, &v), 0);
	cr_expect_eq(v.version, 1);
	cr_expect_eq(v.task_high, 0);
	cr_expect_eq(v.ext_at_ns, 0);
	cr_expect_eq(v.ext_until_ns, 0);
	cr_expect_eq(record_read_tasks(&m, 9, t, 4), 0);
	free(r);
}

/* Open slots below task_high are read, with label, timeout, beat and
 * extension; free, claimed and torn ones are not; a label that breaks the
 * rules is flagged and made printable. */
Test(record, read_tasks)
{
	struct hb_record *r = image(HB_RECORD_SIZE);
	struct hb_task_slot *s = record_tasks(r);
	struct hb_task_view t[HB_TASK_SLOTS];
	struct hb_record_view v;

	record_header(r);
	record_set(r, HB_RECORD_OPEN, UINT64_C(1000000000), "web");
	memcpy((void *)s[0].label, "ingest", 7);
	s[0].timeout_ms = 250;
	s[0].beat_ns = 111;
	s[0].ext_at_ns = 112;
	s[0].ext_until_ns = 999;
	s[0].word = HB_TASK_WORD(3, HB_TASK_OPEN);
	s[1].word = HB_TASK_WORD(4, HB_TASK_CLAIMED);
	s[2].word = HB_TASK_WORD(5, HB_TASK_FREE);
	memcpy((void *)s[3].label, "bad label\x1b", 11);
	s[3].timeout_ms = 1;
	s[3].word = HB_TASK_WORD(1, HB_TASK_OPEN);
	s[5].word = HB_TASK_WORD(1, HB_TASK_OPEN); /* beyond task_high: not read */
	atomic_store(&r->task_high, 4);

	struct hb_record_map m = map_of(r, HB_RECORD_SIZE);
	cr_expect_eq(m.task_cap, HB_TASK_SLOTS);
	cr_assert_eq(record_read(&m, &v), 0);
	cr_expect_eq(v.version, HB_RECORD_VERSION);
	cr_assert_eq(v.task_high, 4);
	cr_assert_eq(record_read_tasks(&m, v.task_high, t, HB_TASK_SLOTS), 2);
	cr_expect_eq(t[0].index, 0);
	cr_expect_eq(t[0].gen, 3);
	cr_expect_str_eq(t[0].label, "ingest");
	cr_expect(t[0].label_ok);
	cr_expect_eq(t[0].timeout_ms, 250);
	cr_expect_eq(t[0].beat_ns, 111);
	cr_expect_eq(t[0].ext_at_ns, 112);
	cr_expect_eq(t[0].ext_until_ns, 999);
	cr_expect_eq(t[1].index, 3);
	cr_expect_not(t[1].label_ok);
	cr_expect_str_eq(t[1].label, "bad label?");
	/* CAP bounds the copy; a task_high past the slots is clamped. */
	cr_expect_eq(record_read_tasks(&m, v.task_high, t, 1), 1);
	atomic_store(&r->task_high, 100000);
	cr_assert_eq(record_read(&m, &v), 0);
	cr_expect_eq(v.task_high, HB_TASK_SLOTS);
	cr_expect_eq(record_read_tasks(&m, 100000, t, HB_TASK_SLOTS), 3);
	free(r);
}

/* What the owner wrote is what a reader gets; a name that is no service
 * name is flagged, and always comes back NUL-terminated. */
Test(record, set_then_read)
{
	struct hb_record *r = image(HB_RECORD_SIZE);
	struct hb_record_view v;

	record_header(r);
	struct hb_record_map m = map_of(r, HB_RECORD_SIZE);
	record_set(r, HB_RECORD_OPEN, UINT64_C(1500000000), "web@1");
	record_beat(r, 12345);
	cr_assert_eq(record_read(&m, &v), 0);
	cr_expect_eq(v.state, HB_RECORD_OPEN);
	cr_expect_eq(v.timeout_ns, UINT64_C(1500000000));
	cr_expect_eq(v.beat_ns, 12345);
	cr_expect_eq(v.pid, 4242);
	cr_expect_eq(v.start_time, 987654);
	cr_expect_eq(v.flags, HB_RECORD_SELF);
	cr_expect_str_eq(v.name, "web@1");
	cr_expect(v.name_ok);
	cr_expect_eq(v.seq % 2, 0);

	record_set(r, HB_RECORD_OPEN, 1, "no spaces please");
	cr_assert_eq(record_read(&m, &v), 0);
	cr_expect_not(v.name_ok);

	/* 64 name bytes and no NUL: a writer that ignored the layout. */
	for (unsigned k = 0; k < HB_NAME_WORDS; k++)
		atomic_store(&r->name[k], UINT64_C(0x6161616161616161));
	cr_assert_eq(record_read(&m, &v), 0);
	cr_expect_not(v.name_ok);
	cr_expect_eq(strlen(v.name), HB_NAME_SIZE - 1);

	/* A writer that stopped inside the seqlock: no torn copy, ever. */
	atomic_store(&r->seq, 7);
	cr_expect_eq(record_read(&m, &v), -EAGAIN);
	free(r);
}

/* A record of layout 1 in a 4 KiB segment, valid when attached, whose
 * owner then rewrites its header as layout 2 with every task slot used:
 * nothing past the 4 KiB is read (here a page that faults), and the
 * record is refused with what changed. */
Test(record, layout_rewritten_after_attach)
{
	long page = sysconf(_SC_PAGESIZE);
	struct hb_task_view t[HB_TASK_SLOTS];
	struct hb_record_view v;
	char why[256] = "";

	cr_assert_eq(page, HB_RECORD_V1_SIZE, "the guard page needs 4 KiB pages");
	char *mem = mmap(NULL, 2 * (size_t)page, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	cr_assert(mem != MAP_FAILED);
	cr_assert_eq(mprotect(mem + page, (size_t)page, PROT_NONE), 0);
	struct hb_record *r = (struct hb_record *)(void *)mem;

	record_header(r);
	r->version = 1;
	r->size = HB_RECORD_V1_SIZE;
	r->task_offset = r->task_count = r->task_size = 0;
	struct hb_record_map m = map_of(r, HB_RECORD_V1_SIZE);
	record_set(r, HB_RECORD_OPEN, UINT64_C(1000000000), "old");
	cr_assert_eq(record_read(&m, &v), 0);
	cr_assert_eq(record_check(&m, why, sizeof(why)), 0, "%s", why);

	/* The owner's rewrite: layout 2, every slot claimed. */
	record_layout_init(r);
	atomic_store(&r->task_high, HB_TASK_SLOTS);
	cr_expect_eq(record_read(&m, &v), -EPROTO, "a changed header was followed");
	cr_expect_eq(record_read_tasks(&m, HB_TASK_SLOTS, t, HB_TASK_SLOTS), 0);
	cr_expect_eq(record_check(&m, why, sizeof(why)), -EPROTO);
	cr_expect(strstr(why, "changed after it was attached"), "%s", why);

	/* Even a header that says layout 1 again cannot widen the read. */
	r->version = 1;
	r->size = HB_RECORD_V1_SIZE;
	cr_expect_eq(record_read(&m, &v), 0);
	cr_expect_eq(v.task_high, 0);
	cr_expect_eq(record_read_tasks(&m, HB_TASK_SLOTS, t, HB_TASK_SLOTS), 0);
	munmap(mem, 2 * (size_t)page);
}

/* Layout 2 in a segment larger than 8 KiB: the slots are those the layout
 * has, whatever task_high says. */
Test(record, geometry_of_sizes)
{
	struct hb_record *r = image(4 * HB_RECORD_SIZE);
	struct hb_record_map m;

	record_header(r);
	m = map_of(r, 4 * HB_RECORD_SIZE);
	cr_expect_eq(m.layout, HB_RECORD_VERSION);
	cr_expect_eq(m.task_cap, HB_TASK_SLOTS);
	cr_expect_eq(m.size, 4 * HB_RECORD_SIZE);
	cr_expect_eq(record_geometry(r, HB_RECORD_V1_SIZE, &m, NULL, 0), -EPROTO,
		     "layout 2 accepted in 4 KiB");
	free(r);
}

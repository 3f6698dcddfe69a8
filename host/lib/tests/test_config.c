/* Tests of the bench config: every kind of mistake gives its message with file and
 * line; overrides, canonical text, JSON and hash. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "log_capture.h"

/* Drivers as a program registers them (host/relay, host/node): a few with keys of
 * their own, two sharing one key declared alike, and one selected by two names. */
struct fake_ops {
	const char *name;
	const struct opt_def *opts;
	const char *const *names;
};

#define RELAY(f) offsetof(struct cfg_relay, f)
#define NODE(f) offsetof(struct cfg_node, f)
static const struct opt_def exec_opts[] = {
	{ "exec_on", OPT_LIST, RELAY(exec_on), NULL, OPT_NOLIMIT, NULL, "exec: on", OPT_REQUIRED },
	{ "exec_off", OPT_LIST, RELAY(exec_off), NULL, OPT_NOLIMIT, NULL, "exec: off", OPT_REQUIRED },
	{ 0 }
};
#define ACTIVE_LEVEL { "active_level", OPT_ENUM, RELAY(active_level), "high", OPT_NOLIMIT, \
	config_active_levels, "gpio: level", 0 }
static const struct opt_def gpio_opts[] = {
	{ "gpio_line", OPT_INT, RELAY(gpio_line), "-1", -1, 1023, NULL, "gpio: line", OPT_REQUIRED },
	ACTIVE_LEVEL, { 0 }
};
static const struct opt_def usbhid_opts[] = {
	{ "usbhid_serial", OPT_STRING, RELAY(usbhid_serial), NULL, OPT_NOLIMIT, NULL, "usbhid", 0 },
	ACTIVE_LEVEL, { 0 }
};
static const struct opt_def qemu_opts[] = {
	{ "tear", OPT_BOOL, NODE(tear), "no", OPT_NOLIMIT, NULL, "qemu: tear", 0 }, { 0 }
};
static const struct opt_def pve_opts[] = {
	{ "vmid", OPT_INT, NODE(vmid), "9000", 100, 999999999, NULL, "proxmox: vmid", 0 }, { 0 }
};
static const char *const qemu_names[] = { "sim", "qemu", NULL };
static const struct fake_ops f_null = { "null", NULL, NULL }, f_exec = { "exec", exec_opts, NULL },
	f_gpio = { "gpio", gpio_opts, NULL }, f_usbhid = { "usbhid", usbhid_opts, NULL },
	f_qemu = { "qemu", qemu_opts, qemu_names }, f_pve = { "proxmox", pve_opts, NULL };
static const struct fake_ops *const relays[] = { &f_null, &f_exec, &f_gpio, &f_usbhid, NULL };
static const struct fake_ops *const nodes[] = { &f_qemu, &f_pve, NULL };
#define FAKE_DRIVERS(t) { (const void *const *)(t), offsetof(struct fake_ops, name), \
	offsetof(struct fake_ops, opts), offsetof(struct fake_ops, names) }
static const struct bench_drivers drivers = { FAKE_DRIVERS(relays), FAKE_DRIVERS(nodes) };

/* No error was logged. */
static void no_errors(void)
{
	char *e = logged();

	assert_string_equal(e, "");
	free(e);
}

static const char *good =
	"[bench]\n"				/* 1 */
	"name = t\n"				/* 2 */
	"[relay]\n"				/* 3 */
	"driver = null\n"			/* 4 */
	"[disk qcow2]\n"			/* 5 */
	"format = qcow2\n"			/* 6 */
	"cache = none\n"			/* 7 */
	"size = 2G\n"				/* 8 */
	"[workload]\n"				/* 9 */
	"queue_depth = 4\n";			/* 10 */

/* Parse `text` expecting failure; returns the messages logged (caller frees). */
static char *fails(const char *text, char *const *sets, size_t n)
{
	struct bench_config *c = bench_config_parse("x.ini", text, sets, n, &drivers);
	char *e = logged();

	assert_null(c);
	assert_int_equal(errno, EINVAL);
	assert_string_not_equal(e, "");
	return e;
}

static char *with(const char *extra)
{
	char *t;

	assert_true(asprintf(&t, "%s%s", good, extra) > 0);
	return t;
}

static void test_good(void **state)
{
	struct bench_config *c = bench_config_parse("x.ini", good, NULL, 0, &drivers);

	assert_non_null(c);
	no_errors();
	assert_string_equal(c->bench->name, "t");
	assert_string_equal(c->relay->driver, "null");
	assert_int_equal(c->n_disks, 1);
	assert_string_equal(c->disks[0]->name, "qcow2");
	assert_int_equal(c->disks[0]->size, 2ULL << 30);
	assert_int_equal(c->disks[0]->cluster_size, 64 << 10);	/* default */
	assert_int_equal(c->workload->queue_depth, 4);
	assert_int_equal(c->campaign->window_max_ms, 5000);
	assert_int_equal(c->relay->hold_up_ms, 18);
	bench_config_free(c);
}

static void test_unknown_key_suggests(void **state)
{
	char *t = with("[disk a]\ncach = none\n");	/* line 12 */
	char *e = fails(t, NULL, 0);

	assert_string_equal(e, "x.ini:12: unknown key 'cach' in [disk a] (did you mean 'cache'?)\n");
	free(e);
	free(t);
	/* Far from every key: no suggestion. */
	t = with("[workload]\nzzzzzz = 1\n");
	e = fails(t, NULL, 0);
	assert_string_equal(e, "x.ini:12: unknown key 'zzzzzz' in [workload]\n");
	free(e);
	free(t);
}

static void test_invalid_enum(void **state)
{
	char *e = fails("[bench]\nname=t\n[relay]\ndriver=null\n[disk a]\n\ncache = fast\n", NULL, 0);

	assert_string_equal(e, "x.ini:7: invalid value 'fast' for 'cache' in [disk a] "
			    "(expected none, writeback, writethrough, directsync, unsafe)\n");
	free(e);
}

static void test_invalid_numbers(void **state)
{
	char *t = with("queue_depth_x = 1\n");
	free(t);
	char *e = fails("[bench]\nname=t\n[relay]\ndriver=null\n[workload]\nblock_size = 4Q\n"
			"direct = maybe\nflush_ms = 1.5s5\n", NULL, 0);
	assert_string_equal(e,
		"x.ini:6: invalid value '4Q' for 'block_size' in [workload] (expected a size such as 4096, 4K, 128KiB, 1G)\n"
		"x.ini:7: invalid value 'maybe' for 'direct' in [workload] (expected yes or no)\n"
		"x.ini:8: invalid value '1.5s5' for 'flush_ms' in [workload] (expected a duration such as 250ms, 2s, 5m)\n");
	free(e);
}

static void test_out_of_range(void **state)
{
	char *e = fails("[bench]\nname=t\n[relay]\ndriver=null\n[workload]\nqueue_depth = 0\n"
			"[disk d]\ncluster_size = 4M\n", NULL, 0);

	assert_string_equal(e,
		"x.ini:6: value '0' out of range for 'queue_depth' in [workload] (expected 1..1024)\n"
		"x.ini:8: value '4M' out of range for 'cluster_size' in [disk d] (expected 512..2M)\n");
	free(e);
}

static void test_duplicate_key(void **state)
{
	char *t = with("queue_depth = 8\n");	/* line 11, first on line 10 */
	char *e = fails(t, NULL, 0);

	assert_string_equal(e, "x.ini:11: duplicate key 'queue_depth' in [workload] (first set on line 10)\n");
	free(e);
	free(t);
}

static void test_unknown_section(void **state)
{
	char *t = with("[rellay]\nport = x\nchannel = 1\n[frobnicate]\na = 1\n");
	char *e = fails(t, NULL, 0);

	/* One message per bad header, at the header's line. */
	assert_string_equal(e,
		"x.ini:11: unknown section [rellay] (did you mean [relay]?)\n"
		"x.ini:14: unknown section [frobnicate] (sections: bench, relay, node, disk NAME, workload, campaign)\n");
	free(e);
	free(t);
	t = with("[disk]\nsize = 1G\n[relay x]\nchannel = 1\n");
	e = fails(t, NULL, 0);
	assert_string_equal(e,
		"x.ini:11: section [disk] needs a name: [disk NAME]\n"
		"x.ini:13: section [relay x] takes no name: [relay]\n");
	free(e);
	free(t);
}

static void test_missing_required(void **state)
{
	char *e = fails("[bench]\nname = t\n\n[relay]\nchannel = 1\n", NULL, 0);

	assert_string_equal(e, "x.ini:4: missing required key 'driver' in [relay]\n");
	free(e);
	e = fails("[relay]\ndriver = null\n", NULL, 0);
	/* A section the file lacks has no line: the file's last one is named. */
	assert_string_equal(e, "x.ini:2: missing required key 'name' in [bench] (the file has no "
			    "such section)\n");
	free(e);
}

static void test_syntax_and_long_line(void **state)
{
	char *e = fails("[bench]\nname = t\n[relay]\ndriver = null\nthis line has no equals sign\n",
			NULL, 0);

	assert_string_equal(e, "x.ini:5: syntax error (expected '[section]' or 'key = value')\n");
	free(e);
	char longl[400];
	memset(longl, 'a', sizeof(longl));
	memcpy(longl, "description = ", 14);
	longl[sizeof(longl) - 2] = '\n';
	longl[sizeof(longl) - 1] = '\0';
	char *t;
	assert_true(asprintf(&t, "[bench]\nname = t\n%s[relay]\ndriver = null\n", longl) > 0);
	e = fails(t, NULL, 0);
	assert_string_equal(e, "x.ini:3: line too long (at most 198 bytes)\n");
	free(e);
	free(t);
}

static void test_cross_checks(void **state)
{
	char *e = fails("[bench]\nname = t\n[relay]\ndriver = exec\nexec_on = true\n"
			"[campaign]\nwindow_min_ms = 5s\nwindow_max_ms = 1s\n", NULL, 0);

	assert_string_equal(e,
		"x.ini:4: missing required key 'exec_off' in [relay] (driver 'exec')\n"
		"x.ini:7: window_min_ms is after window_max_ms in [campaign]\n");
	free(e);
}

/* zvol options: a volblocksize that is no power of two names its line; sync=disabled
 * makes the disk a negative control, sync=standard does not. */
static void test_zvol(void **state)
{
	char *t = with("[disk z]\nformat = zvol\nvolblocksize = 12K\n");
	char *e = fails(t, NULL, 0);
	assert_string_equal(e, "x.ini:13: volblocksize 12288 is not a power of two in [disk z]\n");
	free(e);
	free(t);

	t = with("[disk z]\nformat = zvol\nsync = disabled\nvolblocksize = 64K\nbus = nvme\n");
	struct bench_config *c = bench_config_parse("x.ini", t, NULL, 0, &drivers);
	assert_non_null(c);
	const struct cfg_disk *z = c->disks[1];
	assert_string_equal(z->name, "z");
	assert_int_equal(z->format, DISK_ZVOL);
	assert_int_equal(z->zfs_sync, ZFS_SYNC_DISABLED);
	assert_int_equal(z->volblocksize, 64 << 10);
	assert_int_equal(z->bus, BUS_NVME);
	assert_true(cfg_disk_negative(z));
	assert_false(cfg_disk_negative(c->disks[0]));
	bench_config_free(c);
	free(t);
	char *set[] = { "disk.z.sync=standard" };
	t = with("[disk z]\nformat = zvol\nsync = disabled\n");
	c = bench_config_parse("x.ini", t, set, 1, &drivers);
	assert_non_null(c);
	assert_false(cfg_disk_negative(c->disks[1]));
	bench_config_free(c);
	free(t);
}

static void test_sets(void **state)
{
	char *sets[] = { "relay.hold_up_ms=20", "disk.qcow2.cache=writeback",
			 "campaign.seed=0xffffffffffffffff", "workload.queue_depth=8" };
	struct bench_config *c = bench_config_parse("x.ini", good, sets, 4, &drivers);

	assert_non_null(c);
	assert_int_equal(c->relay->hold_up_ms, 20);
	assert_int_equal(c->disks[0]->cache, CACHE_WRITEBACK);
	assert_true(c->campaign->seed == UINT64_MAX);
	/* An override replaces the file's value, it is not a duplicate. */
	assert_int_equal(c->workload->queue_depth, 8);
	bench_config_free(c);

	char *bad[] = { "relay.hold_upms=20", "disk.nope.cache=none", "relay", "rellay.channel=1",
			"workload.queue_depth=0" };
	char *e = fails(good, bad, 5);
	assert_string_equal(e,
		"--set 'relay.hold_upms=20': unknown key 'hold_upms' in [relay] (did you mean 'hold_up_ms'?)\n"
		"--set 'disk.nope.cache=none': no section [disk nope] in the bench\n"
		"--set 'relay': expected section.key=value\n"
		"--set 'rellay.channel=1': unknown section 'rellay' (did you mean 'relay'?)\n"
		"--set 'workload.queue_depth=0': value '0' out of range for 'queue_depth' in [workload] (expected 1..1024)\n");
	free(e);
}

static void test_lists(void **state)
{
	struct bench_config *c = bench_config_parse("x.ini",
		"[bench]\nname = t\n[relay]\ndriver = exec\n"
		"exec_on = ipmitool -H 'bmc 1' chassis power on\n"
		"exec_off = ipmitool \"a \\\"b\\\"\"\n   chassis power off\n", NULL, 0, &drivers);

	assert_non_null(c);
	char **on = c->relay->exec_on, **off = c->relay->exec_off;
	assert_string_equal(on[0], "ipmitool");
	assert_string_equal(on[2], "bmc 1");
	assert_string_equal(on[5], "on");
	assert_null(on[6]);
	assert_string_equal(off[1], "a \"b\"");
	assert_string_equal(off[4], "off");
	assert_null(off[5]);
	/* The canonical text round-trips through the parser. */
	char *t = bench_config_text(c);
	struct bench_config *c2 = bench_config_parse("y.ini", t, NULL, 0, &drivers);
	assert_non_null(c2);
	assert_string_equal(c2->relay->exec_off[1], "a \"b\"");
	char h1[65], h2[65];
	assert_int_equal(bench_config_hash(c, h1), 0);
	assert_int_equal(bench_config_hash(c2, h2), 0);
	assert_string_equal(h1, h2);
	free(t);
	bench_config_free(c2);
	bench_config_free(c);
}

static void test_text_json_hash(void **state)
{
	/* The same settings in another order, with a different spelling of values. */
	const char *other =
		"[workload]\nqueue_depth = 4\n[disk qcow2]\nsize = 2048M\ncache=none\n"
		"[relay]\ndriver = null\n[bench]\nname = t\n";
	struct bench_config *a = bench_config_parse("x.ini", good, NULL, 0, &drivers);
	struct bench_config *b = bench_config_parse("y.ini", other, NULL, 0, &drivers);
	char *sets[] = { "workload.queue_depth=5" };
	struct bench_config *c = bench_config_parse("x.ini", good, sets, 1, &drivers);
	char ha[65], hb[65], hc[65];

	assert_non_null(a);
	assert_non_null(b);
	assert_non_null(c);
	assert_int_equal(bench_config_hash(a, ha), 0);
	assert_int_equal(bench_config_hash(b, hb), 0);
	assert_int_equal(bench_config_hash(c, hc), 0);
	assert_string_equal(ha, hb);
	assert_string_not_equal(ha, hc);
	assert_int_equal(strlen(ha), 64);
	char *t = bench_config_text(a);
	assert_non_null(strstr(t, "[disk qcow2]\nformat = qcow2\ncache = none\nsize = 2G\n"));
	assert_non_null(strstr(t, "; run_dir is unset\n"));
	/* Re-parsed, the canonical text gives the same config: unset stays unset. */
	struct bench_config *again = bench_config_parse("t.ini", t, NULL, 0, &drivers);
	assert_non_null(again);
	assert_null(again->bench->run_dir);
	char hr[65];
	assert_int_equal(bench_config_hash(again, hr), 0);
	assert_string_equal(hr, ha);
	bench_config_free(again);
	free(t);
	json_t *j = bench_config_json(a);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "workload"), "queue_depth")), 4);
	assert_string_equal(json_string_value(json_object_get(json_object_get(json_object_get(j, "disks"), "qcow2"), "cache")), "none");
	json_decref(j);
	/* SHA-256 test vector ("abc"). */
	assert_int_equal(sha256_hex("abc", 3, ha), 0);
	assert_string_equal(ha, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	bench_config_free(a);
	bench_config_free(b);
	bench_config_free(c);
}

static void test_plain_names(void **state)
{
	/* Names become file names: nothing that leaves or hides in its directory. */
	static const char *const bad[] = { "../../x", "a/b", ".hidden", "a b", "", "x;y", NULL };
	for (size_t i = 0; bad[i]; i++) {
		char *t, *e, want[256];
		assert_true(asprintf(&t, "[bench]\nname = %s\n[relay]\ndriver = null\n", bad[i]) > 0);
		if (!*bad[i]) {
			/* An empty value is the string's own error. */
			free(t);
			continue;
		}
		e = fails(t, NULL, 0);
		snprintf(want, sizeof(want), "x.ini:2: invalid bench name '%s' in [bench] (letters, "
			 "digits, '.', '_' and '-', not starting with '.')\n", bad[i]);
		assert_string_equal(e, want);
		free(e);
		free(t);
		assert_true(asprintf(&t, "%s[disk %s]\nformat = raw\nsize = 1G\n", good, bad[i]) > 0);
		e = fails(t, NULL, 0);
		snprintf(want, sizeof(want), "x.ini:11: invalid disk name '%s' in [disk %s] (letters, "
			 "digits, '.', '_' and '-', not starting with '.')\n", bad[i], bad[i]);
		assert_string_equal(e, want);
		free(e);
		free(t);
	}
	char *t = with("[disk a.b_C-9]\nformat = raw\nsize = 1G\n");
	struct bench_config *c = bench_config_parse("x.ini", t, NULL, 0, &drivers);
	assert_non_null(c);
	bench_config_free(c);
	free(t);
}

static void test_non_utf8(void **state)
{
	/* Rejected where it is, not accepted and dropped later by the JSON dump. */
	char *t = with("[disk d]\nformat = raw\nsize = 1G\ncache = n\xc3\n"
		       "[bench]\ndescription = ok \xc3\xa9 \xed\xa0\x80\n");
	char *e = fails(t, NULL, 0);
	assert_string_equal(e, "x.ini:14: invalid UTF-8 at byte 10 of the line\n"
			    "x.ini:16: invalid UTF-8 at byte 21 of the line\n");
	free(e);
	free(t);
	/* Overlong, above U+10FFFF, a lone continuation byte. */
	static const char *const bad[] = { "\xc0\xaf", "\xf4\x90\x80\x80", "\x80", "\xe0\x80\x80", NULL };
	for (size_t i = 0; bad[i]; i++) {
		assert_true(asprintf(&t, "%s[campaign]\nname = %s\n", good, bad[i]) > 0);
		e = fails(t, NULL, 0);
		assert_string_equal(e, "x.ini:12: invalid UTF-8 at byte 8 of the line\n");
		free(e);
		free(t);
	}
	char *set[] = { "bench.description=x\xff" };
	e = fails(good, set, 1);
	assert_string_equal(e, "--set: invalid UTF-8 at byte 20\n");
	free(e);
	/* Four-byte characters are fine. */
	t = with("[bench]\ndescription = \xf0\x9f\x94\x8c\n");
	struct bench_config *c = bench_config_parse("x.ini", t, NULL, 0, &drivers);
	no_errors();
	assert_non_null(c);
	bench_config_free(c);
	free(t);
}

static void test_empty_sections(void **state)
{
	/* An empty section, trailing or not, and an unknown one without keys. */
	char *t = with("[campaign]\n[workload]\n\n[bogus]\n# nothing\n[disk e]\n");
	char *e = fails(t, NULL, 0);
	assert_string_equal(e, "x.ini:11: empty section [campaign]\n"
			    "x.ini:12: empty section [workload]\n"
			    "x.ini:14: unknown section [bogus] (sections: bench, relay, node, disk NAME, "
			    "workload, campaign)\n"
			    "x.ini:16: empty section [disk e]\n");
	free(e);
	free(t);
}

static void test_error_cap(void **state)
{
	/* Thousands of bad lines: 20 errors shown, the rest counted. */
	size_t n = 5000, len = strlen(good);
	char *t = malloc(len + n * 10 + 1), *p;
	assert_non_null(t);
	memcpy(t, good, len);
	p = t + len;
	for (size_t i = 0; i < n; i++)
		p += sprintf(p, "x%zu = 1\n", i % 1000);
	char *e = fails(t, NULL, 0);
	size_t lines = 0;
	for (const char *c = e; *c; c++)
		lines += *c == '\n';
	assert_int_equal(lines, 21);
	assert_non_null(strstr(e, "x.ini:11: unknown key 'x0' in [workload]\n"));
	assert_non_null(strstr(e, "\nx.ini: 4980 more error(s) not shown\n"));
	free(e);
	free(t);
}

static void test_nul_byte_line(void **state)
{
	char path[] = "/tmp/test_config.XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "[bench]\nname = a\0b\n", 20), 20);
	close(fd);
	assert_null(bench_config_load(path, NULL, 0, &drivers));
	char want[128], *err = logged();
	snprintf(want, sizeof(want), "%s:2: NUL byte: not a text file\n", path);
	assert_string_equal(err, want);
	free(err);
	unlink(path);
}

static void test_example_benches(void **state)
{
	/* Every bench shipped in rig/benches parses. Run from the source tree (as
	 * make check does); elsewhere there is nothing to check. */
	glob_t g;
	if (glob("rig/benches/*.ini", 0, NULL, &g) != 0) {
		fprintf(stderr, "no rig/benches/*.ini here: example benches not checked\n");
	} else {
		assert_true(g.gl_pathc >= 1);
		for (size_t i = 0; i < g.gl_pathc; i++) {
					/* No driver known: their keys are kept as written. */
			struct bench_config *c = bench_config_load(g.gl_pathv[i], NULL, 0, NULL);
			no_errors();
			assert_non_null(c);
			bench_config_free(c);
		}
		globfree(&g);
	}
	assert_null(bench_config_load("no/such/file.ini", NULL, 0, &drivers));
	assert_int_equal(errno, ENOENT);
	char *err = logged();
	assert_string_equal(err, "cannot open bench 'no/such/file.ini': No such file or directory\n");
	free(err);
}


/* issue 18: a file system and the files workload on a disk, and each mistake. */
static void test_fs_keys(void **state)
{
	char *t = with("[node]\ndriver = qemu\ntier = full\n"		/* 11-13 */
		       "[disk f]\nfs = ext4\nmount_options = barrier=0\nworkload = files\n");	/* 14-17 */
	struct bench_config *c = bench_config_parse("x.ini", t, NULL, 0, &drivers);

	assert_non_null(c);
	assert_int_equal(c->disks[0]->fs, DISK_FS_EXT4);	/* sorted: f, qcow2 */
	assert_int_equal(c->disks[0]->workload, DISK_WL_FILES);
	assert_string_equal(c->disks[0]->mount_options, "barrier=0");
	assert_int_equal(c->disks[1]->fs, DISK_FS_NONE);	/* the defaults */
	assert_int_equal(c->disks[1]->workload, DISK_WL_BLOCKS);
	assert_string_equal(config_fs_name(DISK_FS_XFS), "xfs");
	assert_string_equal(config_workload_name(DISK_WL_FILES), "files");
	assert_string_equal(config_workload_name(DISK_WL_SQLITE), "sqlite");
	assert_string_equal(config_sql_journal_name(SQL_JOURNAL_DELETE), "delete");
	assert_string_equal(config_sql_sync_name(SQL_SYNC_NORMAL), "normal");
	bench_config_free(c);
	free(t);

	t = with("[node]\ndriver = qemu\ntier = full\n[disk f]\nworkload = files\n");
	char *e = fails(t, NULL, 0);
	assert_string_equal(e, "x.ini:15: workload=files needs a file system (fs=ext4 or fs=xfs) in [disk f]\n");
	free(e);
	free(t);
	t = with("[node]\ndriver = qemu\ntier = full\n[disk f]\nfs = xfs\n");
	e = fails(t, NULL, 0);
	assert_non_null(strstr(e, "x.ini:15: fs=xfs needs workload=files or sqlite in [disk f]"));
	free(e);
	free(t);
	/* the fast tier has no guest to make a file system */
	t = with("[disk f]\nfs = ext4\nworkload = files\n");
	e = fails(t, NULL, 0);
	assert_non_null(strstr(e, "x.ini:12: fs=ext4 needs the simulated node's full tier"));
	free(e);
	free(t);
	t = with("[node]\ndriver = qemu\ntier = full\n[disk f]\nfs = ext4\nworkload = files\n"
		 "mount_options = a b\n");
	e = fails(t, NULL, 0);
	assert_string_equal(e, "x.ini:17: mount_options cannot hold spaces or quotes in [disk f]\n");
	free(e);
	free(t);
	t = with("[node]\ndriver = qemu\ntier = full\n[disk f]\nfs = ext4\nworkload = files\n"
		 "keep = yes\n");
	e = fails(t, NULL, 0);
	assert_string_equal(e, "x.ini:17: fs=ext4 cannot be kept across cycles yet in [disk f]\n");
	free(e);
	free(t);
}

/* Drivers own their keys: another driver's key is a mistake at its line (file or
 * --set), a key no driver has is unknown as ever, a driver's required keys are
 * required with it only, and the driver is looked up by name. */
static void test_driver_keys(void **state)
{
	char *e = fails("[bench]\nname = t\n[relay]\ndriver = null\ngpio_line = 3\n"
			"active_level = low\nzz = 1\n[node]\ndriver = proxmox\ntear = yes\n", NULL, 0);
	assert_string_equal(e,
		"x.ini:7: unknown key 'zz' in [relay]\n"
		"x.ini:5: key 'gpio_line' in [relay] is an option of driver 'gpio', not of driver 'null'\n"
		"x.ini:6: key 'active_level' in [relay] is an option of drivers 'gpio', 'usbhid', not "
		"of driver 'null'\n"
		"x.ini:10: key 'tear' in [node] is an option of driver 'qemu', not of driver 'proxmox'\n");
	free(e);
	char *set[] = { "relay.usbhid_serial=ABCDE" };
	e = fails(good, set, 1);
	assert_string_equal(e, "--set relay.usbhid_serial: key 'usbhid_serial' in [relay] is an "
			    "option of driver 'usbhid', not of driver 'null'\n");
	free(e);
	e = fails("[bench]\nname = t\n[relay]\ndriver = gpoi\n[node]\ndriver = qemm\n", NULL, 0);
	assert_string_equal(e,
		"x.ini:4: unknown relay driver 'gpoi' in [relay] (drivers: null, exec, gpio, usbhid)\n"
		"x.ini:6: unknown node driver 'qemm' in [node] (did you mean 'qemu'?) (drivers: sim, "
		"qemu, proxmox)\n");
	free(e);
	e = fails("[bench]\nname = t\n[relay]\ndriver = gpio\n", NULL, 0);
	assert_string_equal(e, "x.ini:4: missing required key 'gpio_line' in [relay] (driver 'gpio')\n");
	free(e);
	e = fails("[bench]\nname = t\n[relay]\ndriver = exec\nexec_on =\nexec_off = x\n", NULL, 0);
	assert_string_equal(e, "x.ini:5: required key 'exec_on' is empty in [relay] (driver 'exec')\n");
	free(e);

	/* A shared key with either of its drivers; a driver by each of its names; another
	 * driver's key at its default, as the canonical text has every key. */
	struct bench_config *c = bench_config_parse("x.ini", "[bench]\nname = t\n[relay]\n"
		"driver = usbhid\nactive_level = low\ngpio_line = -1\n[node]\ndriver = sim\n"
		"tear = yes\nvmid = 9000\n", NULL, 0, &drivers);
	no_errors();
	assert_non_null(c);
	assert_int_equal(c->relay->active_level, ACTIVE_LOW);
	assert_true(c->node->tear);
	/* Every known driver's key has its default, used or not. */
	assert_int_equal(c->relay->gpio_line, -1);
	assert_int_equal(c->node->vmid, 9000);
	bench_config_free(c);

	/* Help lists the drivers there are and their keys. */
	char *h = NULL;
	size_t hl = 0;
	FILE *f = open_memstream(&h, &hl);
	bench_config_help(f, &drivers);
	fclose(f);
	assert_non_null(strstr(h, "  driver           null|exec|gpio|usbhid, required\n"));
	assert_non_null(strstr(h, "  driver           sim|qemu|proxmox, default sim\n"));
	assert_non_null(strstr(h, "  gpio_line        int (-1..1023), required\n"));
	free(h);
}

/* A driver table is checked as the loader takes it: a name twice, a key that is the
 * section's own, a shared key declared differently, a malformed row. */
static void test_driver_table_checks(void **state)
{
	static const struct opt_def own[] = {
		{ "channel", OPT_INT, RELAY(channel), "0", OPT_NOLIMIT, NULL, "x", 0 }, { 0 }
	};
	static const struct opt_def other_level[] = {
		{ "active_level", OPT_ENUM, RELAY(active_level), "low", OPT_NOLIMIT,
		  config_active_levels, "x", 0 }, { 0 }
	};
	static const struct opt_def no_values[] = {
		{ "gpio_chip", OPT_ENUM, RELAY(gpio_chip), NULL, OPT_NOLIMIT, NULL, "x", 0 }, { 0 }
	};
	static const struct fake_ops twice = { "null", NULL, NULL }, f_own = { "own", own, NULL },
		f_other = { "other", other_level, NULL }, f_bad = { "bad", no_values, NULL };
	static const struct fake_ops *const t1[] = { &f_null, &twice, NULL };
	static const struct fake_ops *const t2[] = { &f_null, &f_own, NULL };
	static const struct fake_ops *const t3[] = { &f_gpio, &f_other, NULL };
	static const struct fake_ops *const t4[] = { &f_bad, NULL };
	static const struct { const struct fake_ops *const *t; const char *want; } cases[] = {
		{ t1, "relay driver 'null' is registered twice\n" },
		{ t2, "relay driver 'own': option 'channel' is declared twice (or is a key of "
		      "[relay] itself)\n" },
		{ t3, "relay drivers 'gpio' and 'other' declare option 'active_level' differently\n" },
		{ t4, "relay driver 'bad': option 'gpio_chip' is malformed (type, enum values or "
		      "help)\n" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct bench_drivers d = { FAKE_DRIVERS(cases[i].t), FAKE_DRIVERS(nodes) };
		assert_null(bench_config_parse("x.ini", good, NULL, 0, &d));
		char *e = logged();
		assert_non_null(strstr(e, cases[i].want));
		free(e);
	}
	assert_int_equal(opt_drivers_check(&drivers.relay, NULL, "relay"), 0);
}

/* A program that knows no drivers keeps their keys as written: in the text (which
 * parses again, to the same text) and the JSON, a list's continuation line included. */
static void test_unknown_drivers_keep_keys(void **state)
{
	const char *text = "[bench]\nname = t\n[relay]\ndriver = gpio\ngpio_line = 3\n"
			   "[node]\ndriver = qemu\nstorages = a=b\n  c=d\n";
	struct bench_config *c = bench_config_parse("x.ini", text, NULL, 0, NULL);
	char *e;

	no_errors();
	assert_non_null(c);
	char *t = bench_config_text(c);
	assert_non_null(strstr(t, "\ngpio_line = 3\n"));
	assert_non_null(strstr(t, "\nstorages = a=b c=d\n"));
	json_t *j = bench_config_json(c);
	assert_string_equal(json_string_value(json_object_get(json_object_get(j, "relay"),
							      "gpio_line")), "3");
	json_decref(j);
	struct bench_config *again = bench_config_parse("y.ini", t, NULL, 0, NULL);
	no_errors();
	assert_non_null(again);
	char *t2 = bench_config_text(again);
	assert_string_equal(t, t2);
	free(t2);
	free(t);
	bench_config_free(again);
	bench_config_free(c);
	/* An indented line after a header is a key of that section, not a continuation. */
	c = bench_config_parse("x.ini", "[bench]\nname = t\n[relay]\ndriver = x\nl = a\n"
			       "[node]\n  l = b\n", NULL, 0, NULL);
	no_errors();
	assert_non_null(c);
	t = bench_config_text(c);
	assert_non_null(strstr(t, "\nl = a\n\n[node]\n"));
	assert_non_null(strstr(t, "\nl = b\n"));
	free(t);
	bench_config_free(c);
	/* A typo of the section's own key is no driver's key. */
	assert_null(bench_config_parse("x.ini", "[bench]\nname = t\n[relay]\ndriver = x\n"
				       "chanel = 1\n", NULL, 0, NULL));
	e = logged();
	assert_string_equal(e, "x.ini:5: unknown key 'chanel' in [relay] (did you mean 'channel'?)\n");
	free(e);
	/* A key set twice is a duplicate still. */
	assert_null(bench_config_parse("x.ini", "[bench]\nname = t\n[relay]\ndriver = x\n"
				       "a = 1\na = 2\n", NULL, 0, NULL));
	e = logged();
	assert_string_equal(e, "x.ini:6: duplicate key 'a' in [relay] (first set on line 5)\n");
	free(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_unknown_key_suggests),
		cmocka_unit_test(test_invalid_enum),
		cmocka_unit_test(test_invalid_numbers),
		cmocka_unit_test(test_out_of_range),
		cmocka_unit_test(test_duplicate_key),
		cmocka_unit_test(test_unknown_section),
		cmocka_unit_test(test_missing_required),
		cmocka_unit_test(test_plain_names),
		cmocka_unit_test(test_non_utf8),
		cmocka_unit_test(test_empty_sections),
		cmocka_unit_test(test_error_cap),
		cmocka_unit_test(test_nul_byte_line),
		cmocka_unit_test(test_syntax_and_long_line),
		cmocka_unit_test(test_cross_checks),
		cmocka_unit_test(test_zvol),
		cmocka_unit_test(test_sets),
		cmocka_unit_test(test_lists),
		cmocka_unit_test(test_text_json_hash),
		cmocka_unit_test(test_example_benches),
		cmocka_unit_test(test_fs_keys),
		cmocka_unit_test(test_driver_keys),
		cmocka_unit_test(test_driver_table_checks),
		cmocka_unit_test(test_unknown_drivers_keep_keys),
	};
	log_watch_add(log_capture, NULL);
	return cmocka_run_group_tests(tests, NULL, NULL);
}

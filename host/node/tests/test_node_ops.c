/* Unit tests of the node ops table: registration checks (version, required hooks),
 * driver lookup ("sim" is the local qemu driver), and what the qemu driver refuses
 * before it starts anything (LVM-thin on the fast tier, a remote host, no disks). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "log.h"
#include "node.h"
#include "../../lib/tests/log_capture.h"

static int ok_open(struct node *n) { return 0; }
static void ok_close(struct node *n) { }
static int ok_prepare(struct node *n) { return 0; }
static int ok_start(struct node *n, const struct node_job *j) { return 0; }
static int ok_lost(struct node *n, int cut) { return 0; }
static int ok_back(struct node *n, const struct node_job *j) { return 0; }
static int ok_up(struct node *n, int t) { return 0; }
static int ok_check(struct node *n, const struct node_job *j, struct node_disk_result *r) { return 0; }

static const struct node_ops good = {
	.version = NODE_OPS_VERSION, .name = "good", .open = ok_open, .close = ok_close,
	.prepare = ok_prepare, .start_workload = ok_start, .power_lost = ok_lost,
	.power_back = ok_back, .wait_up = ok_up, .check = ok_check,
};

static void validate_good(void **state)
{
	assert_int_equal(node_ops_validate(&good), 0);
}

static void validate_wrong_version(void **state)
{
	struct node_ops o = good;
	o.version = NODE_OPS_VERSION + 1;
	assert_int_equal(node_ops_validate(&o), -EINVAL);
	o.version = 0;
	assert_int_equal(node_ops_validate(&o), -EINVAL);
}

/* Each required hook, removed alone, must be caught. */
static void validate_each_required_hook(void **state)
{
	static const size_t offs[] = {
		offsetof(struct node_ops, open), offsetof(struct node_ops, close),
		offsetof(struct node_ops, prepare), offsetof(struct node_ops, start_workload),
		offsetof(struct node_ops, power_lost), offsetof(struct node_ops, power_back),
		offsetof(struct node_ops, wait_up), offsetof(struct node_ops, check),
	};
	for (size_t i = 0; i < sizeof(offs) / sizeof(offs[0]); i++) {
		struct node_ops o = good;
		memset((char *)&o + offs[i], 0, sizeof(void (*)(void)));
		assert_int_equal(node_ops_validate(&o), -EINVAL);
	}
	struct node_ops o = good;
	o.name = NULL;
	assert_int_equal(node_ops_validate(&o), -EINVAL);
	/* collect is optional */
	o = good;
	o.collect = NULL;
	assert_int_equal(node_ops_validate(&o), 0);
}

static void table_is_valid(void **state)
{
	size_t n = 0;
	for (; node_drivers[n]; n++)
		assert_int_equal(node_ops_validate(node_drivers[n]), 0);
	assert_true(n >= 1);
	const struct node_ops *q = node_ops_find("qemu");
	assert_non_null(q);
	assert_ptr_equal(node_ops_find("sim"), q);
	assert_non_null(node_ops_find("proxmox"));
	assert_int_equal(node_drivers_check(node_drivers), 0);
	/* An unknown name: the error names it and the drivers there are. */
	free(logged());
	assert_null(node_ops_find("qemo"));
	assert_int_equal(errno, ENOENT);
	char *e = logged();
	assert_string_equal(e, "unknown node driver 'qemo' (drivers: sim, qemu, proxmox, "
			    "qemu-remote, null)\n");
	free(e);
}

/* A driver table is refused as it is registered: a name twice, another version, two
 * drivers declaring one key differently. */
static void table_registration(void **state)
{
	static const struct opt_def one[] = {
		{ "vmid", OPT_INT, NODE_CFG(vmid), "9000", 100, 999, NULL, "x", 0 }, { 0 }
	};
	static const struct opt_def other[] = {
		{ "vmid", OPT_INT, NODE_CFG(vmid), "100", 100, 999, NULL, "x", 0 }, { 0 }
	};
	struct node_ops again = good, old = good, a = good, b = good;
	old.name = "old";
	old.version = 1;
	a.name = "a";
	a.options = one;
	b.name = "b";
	b.options = other;
	const struct node_ops *const twice[] = { &good, &again, NULL };
	const struct node_ops *const versions[] = { &good, &old, NULL };
	const struct node_ops *const unlike[] = { &a, &b, NULL };
	char *e;

	free(logged());
	assert_int_equal(node_drivers_check(twice), -EINVAL);
	e = logged();
	assert_string_equal(e, "node driver 'good' is registered twice\n");
	free(e);
	assert_int_equal(node_drivers_check(versions), -EINVAL);
	e = logged();
	assert_string_equal(e, "node driver 'old' has ops version 1, expected 2\n");
	free(e);
	assert_int_equal(node_drivers_check(unlike), -EINVAL);
	e = logged();
	assert_string_equal(e, "node drivers 'a' and 'b' declare option 'vmid' differently\n");
	free(e);
}

static struct bench_config *load(const char *text);

/* The real tables: [node] keys of one driver with another are errors at their line. */
static void keys_of_other_drivers(void **state)
{
	free(logged());
	assert_null(bench_config_parse("t.ini", "[bench]\nname = t\n[relay]\ndriver = null\n"
				       "[node]\ndriver = sim\nvmid = 101\naccel = kvm\n", NULL, 0,
				       &NODE_BENCH_DRIVERS(node_drivers)));
	char *e = logged();
	assert_string_equal(e,
		"t.ini:7: key 'vmid' in [node] is an option of driver 'proxmox', not of driver 'sim'\n"
		"t.ini:8: key 'accel' in [node] is an option of driver 'qemu-remote', not of driver "
		"'sim'\n");
	free(e);
	/* qemu names the local driver and qemu-remote: the keys of both are taken. */
	struct bench_config *cfg = load("[node]\ndriver = qemu\nhost = h\naccel = kvm\n"
					"memory = 2048\n");
	assert_int_equal(cfg->node->accel, NODE_ACCEL_KVM);
	assert_int_equal(cfg->node->memory_mib, 2048);
	bench_config_free(cfg);
}

static struct bench_config *load(const char *text)
{
	char full[1024];

	snprintf(full, sizeof(full), "[bench]\nname = t\n[relay]\ndriver = null\n%s", text);
	struct bench_config *cfg = bench_config_parse("t.ini", full, NULL, 0,
						      &NODE_BENCH_DRIVERS(node_drivers));
	if (!cfg)
		fail_msg("config: see the errors above");
	return cfg;
}

static void lvmthin_needs_full_tier(void **state)
{
	struct bench_config *cfg = load("[node]\ndriver = qemu\ntier = fast\n"
					"[disk a]\nformat = raw\n[disk pool]\nformat = lvmthin\n");
	struct node_env env = { .bin_dir = ".", .work_dir = "." };
	errno = 0;
	assert_null(node_open(cfg, &env));
	assert_int_equal(errno, ENOTSUP);
	bench_config_free(cfg);

	/* the same on the full tier opens (nothing runs until prepare) */
	cfg = load("[node]\ndriver = qemu\ntier = full\n"
		   "[disk a]\nformat = raw\n[disk pool]\nformat = lvmthin\n");
	struct node *n = node_open(cfg, &env);
	assert_non_null(n);
	assert_false(node_powered(n));
	node_close(n);
	bench_config_free(cfg);
}

static void two_lvmthin_refused(void **state)
{
	struct bench_config *cfg = load("[node]\ntier = full\n[disk p1]\nformat = lvmthin\n"
					"[disk p2]\nformat = lvmthin\n");
	struct node_env env = { .bin_dir = ".", .work_dir = "." };
	assert_null(node_open(cfg, &env));
	assert_int_equal(errno, ENOTSUP);
	bench_config_free(cfg);
}

/* The simulated node runs here only; the qemu driver with a host runs over ssh (opening
 * it connects nothing yet). */
static void remote_host_refused(void **state)
{
	struct bench_config *cfg = load("[node]\ndriver = sim\nhost = pve1\n[disk a]\nformat = raw\n");
	struct node_env env = { .bin_dir = ".", .work_dir = "." };
	assert_null(node_open(cfg, &env));
	assert_int_equal(errno, ENOTSUP);
	bench_config_free(cfg);
	cfg = load("[node]\ndriver = qemu\nhost = pve1\n[disk a]\nformat = raw\n");
	struct node *n = node_open(cfg, &env);
	assert_non_null(n);
	assert_string_equal(n->ops->name, "qemu-remote");
	node_close(n);
	bench_config_free(cfg);
}

static void no_disks_refused(void **state)
{
	struct bench_config *cfg = load("[node]\ndriver = sim\n");
	struct node_env env = { .bin_dir = ".", .work_dir = "." };
	assert_null(node_open(cfg, &env));
	assert_int_equal(errno, EINVAL);
	bench_config_free(cfg);
}

/* Before prepare the node is off: a workload is refused, not started. */
static void workload_needs_power(void **state)
{
	struct bench_config *cfg = load("[disk a]\nformat = raw\n");
	struct node_env env = { .bin_dir = ".", .work_dir = "." };
	struct node *n = node_open(cfg, &env);
	assert_non_null(n);
	struct node_job job = { .campaign = 1, .cycle = 1, .token = "t", .ledger_host = "127.0.0.1" };
	assert_int_equal(node_start_workload(n, &job), -EHOSTDOWN);
	node_close(n);
	bench_config_free(cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(validate_good),
		cmocka_unit_test(validate_wrong_version),
		cmocka_unit_test(validate_each_required_hook),
		cmocka_unit_test(table_is_valid),
		cmocka_unit_test(table_registration),
		cmocka_unit_test(keys_of_other_drivers),
		cmocka_unit_test(lvmthin_needs_full_tier),
		cmocka_unit_test(two_lvmthin_refused),
		cmocka_unit_test(remote_host_refused),
		cmocka_unit_test(no_disks_refused),
		cmocka_unit_test(workload_needs_power),
	};
	log_set_level(LOG_ERROR + (getenv("VERBOSE") ? 3 : 0));
	log_watch_add(log_capture, NULL);
	return cmocka_run_group_tests(tests, NULL, NULL) ? 1 : 0;
}

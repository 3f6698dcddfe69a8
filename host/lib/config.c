/* Bench configuration: the section tables and the INI loader. See config.h. */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <ini.h>
#include <openssl/evp.h>

#include "log.h"

#define OFF(T, f) offsetof(struct T, f)
#define NOLIMIT OPT_NOLIMIT

static const char *const sim_modes[] = { "realtime", "fast", NULL };
static const char *const dc_sources[] = { "auto", "simulator", "pwrok", "relay", NULL };
static const char *const power_switches[] = { "ac", "dc", NULL };
const char *config_dc_source_name(int dc_source)
{
	return dc_source >= DC_AUTO && dc_source <= DC_RELAY ? dc_sources[dc_source] : "?";
}

const char *const config_active_levels[] = { "high", "low", NULL };
static const char *const formats[] = { "qcow2", "raw", "lvmthin", "zvol", NULL };
static const char *const zfs_syncs[] = { "standard", "always", "disabled", NULL };
static const char *const slogs[] = { "none", "volatile", "lying", NULL };
static const char *const buses[] = { "virtio", "nvme", "sata", NULL };
static const char *const caches[] = { "none", "writeback", "writethrough", "directsync",
				      "unsafe", NULL };
static const char *const preallocs[] = { "off", "metadata", "falloc", "full", NULL };
static const char *const controls[] = { "none", "lying", "safe", "forgetful", NULL };
const char *config_control_name(int control)
{
	return control >= CONTROL_NONE && control <= CONTROL_FORGETFUL ? controls[control] : "?";
}

static const char *const filesystems[] = { "none", "ext4", "xfs", NULL };
static const char *const disk_workloads[] = { "blocks", "files", "sqlite", NULL };
static const char *const sql_journals[] = { "wal", "delete", NULL };
static const char *const sql_syncs[] = { "full", "normal", "extra", NULL };
const char *config_sql_journal_name(int j)
{
	return j >= SQL_JOURNAL_WAL && j <= SQL_JOURNAL_DELETE ? sql_journals[j] : "?";
}
const char *config_sql_sync_name(int s)
{
	return s >= SQL_SYNC_FULL && s <= SQL_SYNC_EXTRA ? sql_syncs[s] : "?";
}
const char *config_fs_name(int fs)
{
	return fs >= DISK_FS_NONE && fs <= DISK_FS_XFS ? filesystems[fs] : "?";
}
const char *config_workload_name(int workload)
{
	return workload >= DISK_WL_BLOCKS && workload <= DISK_WL_SQLITE ? disk_workloads[workload] : "?";
}

static const char *const patterns[] = { "random", "sequential", "hotset", "alloc", NULL };
static const char *const flushes[] = { "never", "every-n", "every-ms", "always", "fua", NULL };
static const char *const cuts[] = { "power", "kill", "reset", NULL };

const char *config_cut_name(int cut)
{
	return cut >= 0 && cut <= CUT_RESET ? cuts[cut] : "?";
}

int config_cut_parse(const char *name)
{
	for (int i = 0; name && cuts[i]; i++)
		if (!strcmp(name, cuts[i]))
			return i;
	return -1;
}
static const char *const baselines[] = { "fill", "none", NULL };
static const char *const aios[] = { "default", "io_uring", "native", "threads", NULL };

int disk_aio(const struct cfg_disk *d)
{
	/* qemu-server's aio_cmdline_option: io_uring unless the storage is known to
	 * hang with it; a simulated disk is a file on directory storage. */
	return d->aio == AIO_DEFAULT ? AIO_IO_URING : d->aio;
}

const char *disk_aio_name(int aio)
{
	return aio >= 0 && aio <= AIO_THREADS ? aios[aio] : "?";
}
static const char *const tiers[] = { "fast", "full", NULL };
const char *const config_writebacks[] = { "none", "random", "oldest", NULL };
const char *const config_accels[] = { "auto", "kvm", "tcg", NULL };

static const struct opt_def bench_opts[] = {
	{ "name", OPT_STRING, OFF(cfg_bench, name), NULL, NOLIMIT, NULL,
	  "Bench name: names the run directory and the lock, and is stored with every campaign.",
	  OPT_REQUIRED },
	{ "description", OPT_STRING, OFF(cfg_bench, description), "", NOLIMIT, NULL,
	  "Free text describing the bench.", 0 },
	{ "run_dir", OPT_STRING, OFF(cfg_bench, run_dir), NULL, NOLIMIT, NULL,
	  "Directory for the bench lock, the simulator's pty and sockets. Default: run/NAME "
	  "in the build directory next to the powercut binary.", 0 },
	{ 0 }
};

static const struct opt_def relay_opts[] = {
	{ "driver", OPT_STRING, OFF(cfg_relay, driver), NULL, NOLIMIT, NULL,
	  "Relay driver: serial (powercut firmware), usbhid (16c0:05df HID relay boards), "
	  "gpio (libgpiod line), exec (commands such as ipmitool), null (records calls, tests).",
	  OPT_REQUIRED },
	{ "channel", OPT_INT, OFF(cfg_relay, channel), "0", 0, 7, NULL,
	  "Channel that switches the node's power, counted from 0 (usbhid relay 1 is channel 0).", 0 },
	{ "channels", OPT_INT, OFF(cfg_relay, channels), "2", 1, 8, NULL,
	  "Number of channels of the board (the simulator's --channels).", 0 },
	{ "timeout_ms", OPT_DURATION, OFF(cfg_relay, timeout_ms), "1000", 10, 600000, NULL,
	  "Time to wait for one reply from the relay.", 0 },
	{ "simulator", OPT_BOOL, OFF(cfg_relay, simulator), "no", NOLIMIT, NULL,
	  "serial: the board is powercut-mcusim running the real firmware; powercut starts "
	  "and stops it itself.", 0 },
	{ "sim_mode", OPT_ENUM, OFF(cfg_relay, sim_mode), "realtime", NOLIMIT, sim_modes,
	  "Simulator clock: realtime, or fast (faster than real time, for tests).", 0 },
	{ "sim_binary", OPT_STRING, OFF(cfg_relay, sim_binary), NULL, NOLIMIT, NULL,
	  "Simulator program. Default: powercut-mcusim beside the powercut binary.", 0 },
	{ "sim_firmware", OPT_STRING, OFF(cfg_relay, sim_firmware), NULL, NOLIMIT, NULL,
	  "Firmware ELF the simulator runs. Default: ../firmware/powercut-fw.elf relative "
	  "to the powercut binary.", 0 },
	{ "hold_up_ms", OPT_DURATION, OFF(cfg_relay, hold_up_ms), "18", 0, 10000, NULL,
	  "Simulator: PSU hold-up time from relay edge to DC loss.", 0 },
	{ "rise_ms", OPT_DURATION, OFF(cfg_relay, rise_ms), "50", 0, 10000, NULL,
	  "Simulator: time from relay edge to DC good at power on.", 0 },
	{ "dc_source", OPT_ENUM, OFF(cfg_relay, dc_source), "auto", NOLIMIT, dc_sources,
	  "Where powercut learns that the node lost DC and got it back, which is when the "
	  "node is taken to die and to boot: simulator (the PSU model's own events; "
	  "simulator=yes), pwrok (the firmware's PWR_OK edges: the real moment, after the "
	  "supply's hold-up; driver=serial with PWR_OK wired), relay (the relay's own edges: "
	  "DC is taken to fail with the relay, the hold-up is unknown; any driver). auto: "
	  "simulator with simulator=yes, pwrok with driver=serial, else relay.", 0 },
	{ "switches", OPT_ENUM, OFF(cfg_relay, switches), "ac", NOLIMIT, power_switches,
	  "What the relay interrupts: ac (the supply's mains: DC fails after the supply's "
	  "hold-up, 16-21 ms for ATX) or dc (the supply's PS_ON, as IPMI's chassis power "
	  "does: DC fails at once, with no hold-up). Recorded with every cut; reports keep "
	  "the two apart.", 0 },
	{ 0 }
};

static const struct opt_def node_opts[] = {
	{ "driver", OPT_STRING, OFF(cfg_node, driver), "sim", NOLIMIT, NULL,
	  "Node driver: sim (simulated node on this host), qemu (this host; with host set, a "
	  "Linux/KVM host over ssh), proxmox (a Proxmox VE node over ssh), or null (tests).", 0 },
	{ "host", OPT_STRING, OFF(cfg_node, host), NULL, NOLIMIT, NULL,
	  "Host of the node (ssh destination); unset: local.", 0 },
	{ "tier", OPT_ENUM, OFF(cfg_node, tier), "fast", NOLIMIT, tiers,
	  "Simulated node: fast (disk model and the agent over NBD, no VM) or full (a TCG "
	  "guest booting build/guest with the disks as virtio devices).", 0 },
	{ "boot_delay", OPT_DURATION, OFF(cfg_node, boot_delay_ms), "100", 0, 600000, NULL,
	  "Simulated node: time from DC back to the node booting (BIOS, POST).", 0 },
	{ "guest", OPT_STRING, OFF(cfg_node, guest), NULL, NOLIMIT, NULL,
	  "Simulated node, full tier: directory with vmlinux and initrd.cpio; unset: "
	  "build/guest next to the binaries.", 0 },
	{ "user", OPT_STRING, OFF(cfg_node, user), NULL, NOLIMIT, NULL,
	  "Remote node: ssh user; unset: ssh's default (~/.ssh/config, then the local user).", 0 },
	{ "port", OPT_INT, OFF(cfg_node, port), "0", 0, 65535, NULL,
	  "Remote node: ssh port; 0: ssh's default.", 0 },
	{ "identity", OPT_STRING, OFF(cfg_node, identity), NULL, NOLIMIT, NULL,
	  "Remote node: ssh private key file (only this key is offered); unset: ssh's defaults.", 0 },
	{ "known_hosts", OPT_STRING, OFF(cfg_node, known_hosts), NULL, NOLIMIT, NULL,
	  "Remote node: known_hosts file holding the node's host key (always checked); unset: "
	  "ssh's default.", 0 },
	{ "ssh_config", OPT_STRING, OFF(cfg_node, ssh_config), NULL, NOLIMIT, NULL,
	  "Remote node: ssh configuration file (ssh -F); unset: ~/.ssh/config as usual.", 0 },
	{ "fio", OPT_LIST, OFF(cfg_node, fio), NULL, NOLIMIT, NULL,
	  "fio job files (rig/workloads/) run on the node beside the agent as load; their "
	  "JSON figures are stored per cycle.", 0 },
	{ "fio_size", OPT_SIZE, OFF(cfg_node, fio_size), "0", 0, 1LL << 42, NULL,
	  "Size of fio's data file on the node (fio --filesize, over the job files' size); "
	  "0: the job files' own size on a remote node, 64M on the simulated node (its "
	  "work directory is on this host's tmp).", 0 },
	{ 0 }
};

static const struct opt_def disk_opts[] = {
	{ "format", OPT_ENUM, OFF(cfg_disk, format), "qcow2", NOLIMIT, formats,
	  "Disk format under test.", 0 },
	{ "cache", OPT_ENUM, OFF(cfg_disk, cache), "none", NOLIMIT, caches,
	  "QEMU cache mode.", 0 },
	{ "size", OPT_SIZE, OFF(cfg_disk, size), "1G", 1 << 20, 1LL << 42, NULL,
	  "Virtual size of the disk.", 0 },
	{ "cluster_size", OPT_SIZE, OFF(cfg_disk, cluster_size), "64K", 512, 2 << 20, NULL,
	  "qcow2 cluster size.", 0 },
	{ "extended_l2", OPT_BOOL, OFF(cfg_disk, extended_l2), "no", NOLIMIT, NULL,
	  "qcow2 subclusters (extended L2 entries).", 0 },
	{ "lazy_refcounts", OPT_BOOL, OFF(cfg_disk, lazy_refcounts), "no", NOLIMIT, NULL,
	  "qcow2 lazy refcounts.", 0 },
	{ "preallocation", OPT_ENUM, OFF(cfg_disk, preallocation), "off", NOLIMIT, preallocs,
	  "Preallocation when the image is created.", 0 },
	{ "backing", OPT_BOOL, OFF(cfg_disk, backing), "no", NOLIMIT, NULL,
	  "qcow2 over a backing file holding the baseline.", 0 },
	{ "aio", OPT_ENUM, OFF(cfg_disk, aio), "default", NOLIMIT, aios,
	  "QEMU's aio mode for the disk's file: io_uring, native, threads, or default: as "
	  "Proxmox's qemu-server chooses (io_uring; on plain LVM and CIFS storage native with "
	  "cache none or directsync, else threads). It matters where QEMU opens a file; the "
	  "simulated node's QEMU reads the disk model over NBD, so there it is recorded only.", 0 },
	{ "keep", OPT_BOOL, OFF(cfg_disk, keep), "no", NOLIMIT, NULL,
	  "Keep the disk across cycles (aging): created and baselined once, then every "
	  "cycle writes on what the last one left; the oracle remembers what was durable.", 0 },
	{ "control", OPT_ENUM, OFF(cfg_disk, control), "none", NOLIMIT, controls,
	  "Negative or positive control: lying (drops flushed writes: the oracle must "
	  "report violations), forgetful (at each power cut reads back zeroes for a range "
	  "of blocks durable before the cycle: the oracle must report violations), safe "
	  "(must never lose a flushed write), none.", 0 },
	{ "record", OPT_BOOL, OFF(cfg_disk, record), "no", NOLIMIT, NULL,
	  "Record every write and flush the disk model below QEMU acknowledges, with its "
	  "data, for 'powercut explore' (docs/explore.md). raw, qcow2 without backing, "
	  "lvmthin without fs.", 0 },
	{ "fs", OPT_ENUM, OFF(cfg_disk, fs), "none", NOLIMIT, filesystems,
	  "File system the guest makes on the disk (on lvmthin: on the thin volume) at "
	  "every write boot, and checks read-only (e2fsck -fn, xfs_repair -n) before "
	  "verifying the files: none, ext4, xfs. Needs workload=files and the full tier.", 0 },
	{ "mount_options", OPT_STRING, OFF(cfg_disk, mount_options), "", NOLIMIT, NULL,
	  "Mount options of the file system (mount -o), e.g. barrier=0 for ext4 as a "
	  "negative control: no spaces.", 0 },
	{ "workload", OPT_ENUM, OFF(cfg_disk, workload), "blocks", NOLIMIT, disk_workloads,
	  "What runs on the disk: blocks (the verifying block writer of [workload]) or "
	  "files (create, append, overwrite and rename files with fsync, fdatasync or "
	  "O_SYNC on the file system of fs; docs/oracle.md, \"File systems\") or sqlite "
	  "(transactions in a SQLite database on that file system).", 0 },
	{ "sqlite_journal", OPT_ENUM, OFF(cfg_disk, sqlite_journal), "wal", NOLIMIT, sql_journals,
	  "workload=sqlite: PRAGMA journal_mode, wal or delete.", 0 },
	{ "sqlite_synchronous", OPT_ENUM, OFF(cfg_disk, sqlite_synchronous), "full", NOLIMIT, sql_syncs,
	  "workload=sqlite: PRAGMA synchronous, full, normal or extra. Where SQLite documents "
	  "that the last commits may roll back after a power loss (wal with normal; delete "
	  "without extra, which alone syncs the directory after the journal's unlink), "
	  "losing them is counted apart, not a violation.", 0 },
	{ "sync", OPT_ENUM, OFF(cfg_disk, zfs_sync), "standard", NOLIMIT, zfs_syncs,
	  "zvol: the zvol's sync property: standard (flushes commit the ZFS intent log), "
	  "always (every write does), disabled (flushes are ignored: it promises nothing, "
	  "so the disk is a negative control whose violations must show).", 0 },
	{ "volblocksize", OPT_SIZE, OFF(cfg_disk, volblocksize), "16K", 512, 128 << 10, NULL,
	  "zvol: the zvol's volblocksize (a power of two).", 0 },
	{ "compression", OPT_BOOL, OFF(cfg_disk, compression), "no", NOLIMIT, NULL,
	  "zvol: compression (lz4) on the zvol.", 0 },
	{ "slog", OPT_ENUM, OFF(cfg_disk, slog), "none", NOLIMIT, slogs,
	  "zvol: a separate log device (SLOG) on its own disk of the same size: none, "
	  "volatile (the disk model's volatile cache) or lying (drops flushed writes).", 0 },
	{ "bus", OPT_ENUM, OFF(cfg_disk, bus), "virtio", NOLIMIT, buses,
	  "Full tier: how the disk is attached: virtio, nvme or sata (nvme and sata drives "
	  "answer SMART queries: their testimony is recorded before and after each cycle).", 0 },
	{ 0 }
};

static const struct opt_def workload_opts[] = {
	{ "block_size", OPT_SIZE, OFF(cfg_workload, block_size), "4K", 512, 1 << 20, NULL,
	  "Size of each write.", 0 },
	{ "queue_depth", OPT_INT, OFF(cfg_workload, queue_depth), "1", 1, 1024, NULL,
	  "Writes in flight.", 0 },
	{ "pattern", OPT_ENUM, OFF(cfg_workload, pattern), "random", NOLIMIT, patterns,
	  "Where writes go: random, sequential, hotset (hot_set_pct of the span gets most "
	  "writes), alloc (first writes to unallocated clusters).", 0 },
	{ "hot_set_pct", OPT_INT, OFF(cfg_workload, hot_set_pct), "10", 1, 100, NULL,
	  "hotset: share of the span that is hot.", 0 },
	{ "span_mib", OPT_INT, OFF(cfg_workload, span_mib), "256", 1, 1 << 22, NULL,
	  "Part of each disk the workload writes, in MiB.", 0 },
	{ "flush", OPT_ENUM, OFF(cfg_workload, flush), "every-n", NOLIMIT, flushes,
	  "When the workload flushes: never, every-n writes, every-ms, always (after each "
	  "write), fua (each write with FUA).", 0 },
	{ "flush_n", OPT_INT, OFF(cfg_workload, flush_n), "64", 1, 1 << 30, NULL,
	  "every-n: writes between flushes.", 0 },
	{ "flush_ms", OPT_DURATION, OFF(cfg_workload, flush_ms), "100", 1, 3600000, NULL,
	  "every-ms: time between flushes.", 0 },
	{ "direct", OPT_BOOL, OFF(cfg_workload, direct), "yes", NOLIMIT, NULL,
	  "O_DIRECT in the guest.", 0 },
	{ "duration", OPT_DURATION, OFF(cfg_workload, duration_ms), "30s", 1, 86400000, NULL,
	  "Longest workload per cycle (the cut normally comes first).", 0 },
	{ "baseline", OPT_ENUM, OFF(cfg_workload, baseline), "fill", NOLIMIT, baselines,
	  "fill: every block is written and flushed before the workload; none: a fresh image "
	  "with no baseline at all (blocks never acknowledged may read as zeroes).", 0 },
	{ 0 }
};

static const struct opt_def campaign_opts[] = {
	{ "cycles", OPT_INT, OFF(cfg_campaign, cycles), "10", 1, 10000000, NULL,
	  "Number of cut cycles.", 0 },
	{ "seed", OPT_UINT64, OFF(cfg_campaign, seed), "1", NOLIMIT, NULL,
	  "Seed of every random choice (cut moments, workload); the same seed repeats a campaign.", 0 },
	{ "cut", OPT_ENUM, OFF(cfg_campaign, cut), "power", NOLIMIT, cuts,
	  "power (the node loses DC), kill (kill -9 of QEMU, the host survives) or reset "
	  "(QEMU's system reset: QEMU and the host survive, the guest restarts).", 0 },
	{ "window_min_ms", OPT_DURATION, OFF(cfg_campaign, window_min_ms), "500", 0, 3600000, NULL,
	  "Earliest cut after the workload starts.", 0 },
	{ "window_max_ms", OPT_DURATION, OFF(cfg_campaign, window_max_ms), "5000", 0, 3600000, NULL,
	  "Latest cut after the workload starts.", 0 },
	{ "off_ms", OPT_DURATION, OFF(cfg_campaign, off_ms), "2000", 10, 3600000, NULL,
	  "Power-off time of each cut.", 0 },
	{ "boot_timeout", OPT_DURATION, OFF(cfg_campaign, boot_timeout_ms), "120s", 1000, 3600000, NULL,
	  "Longest wait for the node to come back after power returns.", 0 },
	{ "retries", OPT_INT, OFF(cfg_campaign, retries), "3", 0, 100, NULL,
	  "Power cycles tried on a node that does not come back before the campaign stops.", 0 },
	{ "host_cuts", OPT_INT, OFF(cfg_campaign, host_cuts_pct), "0", 0, 100, NULL,
	  "Percent of the cycles of `powercut run` whose cut the host times at a workload phase it "
	  "sees in the ledger (right after every disk completed its k-th flush, while a disk's "
	  "next flush is in flight once every disk flushed, or idle_ms after the last flush) "
	  "with an immediate cut; the rest are armed in the window.", 0 },
	{ "idle_ms", OPT_DURATION, OFF(cfg_campaign, idle_ms), "50", 1, 3600000, NULL,
	  "Host-timed idle cut: this long after the last flush completed.", 0 },
	{ "evidence_cap", OPT_SIZE, OFF(cfg_campaign, evidence_cap), "256M", 0, 1LL << 42, NULL,
	  "Most bytes of evidence (read-back reports, qcow2 metadata dumps, sparse copies of small "
	  "images) kept per campaign next to its database.", 0 },
	{ "scenario", OPT_LIST, OFF(cfg_campaign, scenario), NULL, NOLIMIT, NULL,
	  "The steps of each cycle, in order: fill, write[:KEY=VALUE,...], flush, "
	  "idle:DURATION, snapshot, cut[:power|kill|reset], restart, reboot, check "
	  "(docs/campaign.md, Scenarios); unset: write cut restart check.", 0 },
	{ "explore", OPT_INT, OFF(cfg_campaign, explore_states), "0", 0, 1000000, NULL,
	  "After each cycle, explore this many crash states of every recorded disk "
	  "([disk] record = yes; docs/explore.md). 0: record only.", 0 },
	{ 0 }
};

static const struct opt_section sec_bench = { "bench", false, sizeof(struct cfg_bench),
	bench_opts, "The bench as a whole." };
static const struct opt_section sec_relay = { "relay", false, sizeof(struct cfg_relay),
	relay_opts, "The relay that switches the node's power." };
static const struct opt_section sec_node = { "node", false, sizeof(struct cfg_node),
	node_opts, "The storage node under test." };
static const struct opt_section sec_disk = { "disk", true, sizeof(struct cfg_disk),
	disk_opts, "One disk under test; any number, each with its own name." };
static const struct opt_section sec_workload = { "workload", false, sizeof(struct cfg_workload),
	workload_opts, "The verifying write workload run on every disk." };
static const struct opt_section sec_campaign = { "campaign", false, sizeof(struct cfg_campaign),
	campaign_opts, "The cut cycles." };

const struct opt_section *const bench_sections[] = {
	&sec_bench, &sec_relay, &sec_node, &sec_disk, &sec_workload, &sec_campaign, NULL
};

/* A key kept as written: a driver's key read by a program that knows no drivers. */
struct cfg_raw {
	char *key, *value;
	int line;		/* -1: --set */
};

struct cfg_inst {
	const struct opt_section *base;	/* the section's table above */
	const struct opt_section *sec;	/* what parses it: base, with its drivers' keys */
	char *name;		/* named sections */
	void *data;
	int *lines;		/* per option: line set, 0 default, -1 --set */
	int header_line;
	struct cfg_raw *raw;
	size_t n_raw;
};

/* A section with drivers as one load sees it: its own keys and every known driver's,
 * in the order of their fields, each row with the drivers that own it (bit i: driver
 * i; 0: the section's own). drv NULL: no driver known, sec is the base table. */
struct cfg_schema {
	struct opt_section sec;
	struct opt_def *opts;
	uint32_t *owners;
	const struct opt_drivers *drv;
	const char **values;	/* the driver values there are (the driver key's) */
	char **helps;		/* per row: a driver key's help naming its drivers, or NULL */
};
#define N_SCHEMAS 2	/* relay, node */

struct parse_ctx {
	struct bench_config *cfg;
	const char *file;
	const char *text, *pos;
	int line, section_line;
	bool indented;
	int n_errs;
	/* the previous handler call, for continuation lines */
	struct cfg_inst *last_inst;
	const struct opt_def *last_opt;
	size_t last_raw;	/* kept key + 1 in last_inst, 0 none */
	char last_bad_section[512];
	/* the section header being read, to find empty sections */
	char head[128];
	int head_line, head_keys;
	int errs_hidden;	/* errors past MAX_ERRS, counted, not shown */
};

/* A mutated file can make an error of every line: the first ones say what is wrong,
 * the rest only cost memory and a screenful. */
#define MAX_ERRS 20

/* Count a mistake; whether to show it (the first MAX_ERRS are). */
static bool err_count(struct parse_ctx *p)
{
	if (++p->n_errs > MAX_ERRS) {
		p->errs_hidden++;
		return false;
	}
	return true;
}

__attribute__((format(printf, 2, 3)))
static void add_err(struct parse_ctx *p, const char *fmt, ...)
{
	va_list ap;

	if (!err_count(p))
		return;
	va_start(ap, fmt);
	log_vmsg(LOG_ERROR, LOG_CONFIG, fmt, ap);
	va_end(ap);
}

static const struct opt_section *section_find(const char *name)
{
	for (size_t i = 0; bench_sections[i]; i++)
		if (!strcmp(bench_sections[i]->name, name))
			return bench_sections[i];
	return NULL;
}

static struct cfg_inst *inst_find(struct bench_config *cfg, const struct opt_section *s,
				  const char *name)
{
	for (size_t i = 0; i < cfg->n_inst; i++) {
		struct cfg_inst *in = &cfg->inst[i];
		if (in->base == s && (!s->named || !strcmp(in->name, name)))
			return in;
	}
	return NULL;
}

static struct cfg_schema *schema_of(const struct bench_config *cfg, const struct opt_section *s)
{
	if (!cfg->schema)
		return NULL;
	return s == &sec_relay ? &cfg->schema[0] : s == &sec_node ? &cfg->schema[1] : NULL;
}

/* NULL with errno; a broken default is logged. */
static struct cfg_inst *inst_add(struct bench_config *cfg, const struct opt_section *base,
				 const char *name)
{
	struct cfg_inst *v = realloc(cfg->inst, (cfg->n_inst + 1) * sizeof(*v));
	struct cfg_schema *sch = schema_of(cfg, base);
	const struct opt_section *s = sch ? &sch->sec : base;
	struct cfg_inst *in;

	if (!v)
		return NULL;
	cfg->inst = v;
	in = &v[cfg->n_inst];
	memset(in, 0, sizeof(*in));
	in->base = base;
	in->sec = s;
	in->data = calloc(1, s->size);
	in->lines = calloc(opt_count(s) + 1, sizeof(int));
	in->name = name ? strdup(name) : NULL;
	errno = ENOMEM;
	if (!in->data || !in->lines || (name && !in->name))
		goto fail;
	errno = EINVAL;
	if (opt_defaults(s, in->data) < 0)
		goto fail;
	if (base == &sec_disk)
		((struct cfg_disk *)in->data)->name = in->name;
	cfg->n_inst++;
	return in;
fail:
	if (in->data)
		opt_release(s, in->data);
	free(in->name);
	free(in->lines);
	free(in->data);
	return NULL;
}

static const char *section_names[] = { "bench", "relay", "node", "disk", "workload",
				       "campaign", NULL };

/* "[disk a]" for messages. */
static const char *inst_label(const struct cfg_inst *in, char *buf, size_t len)
{
	if (in->sec->named)
		snprintf(buf, len, "[%s %s]", in->sec->name, in->name);
	else
		snprintf(buf, len, "[%s]", in->sec->name);
	return buf;
}

/* in with control characters written as \n, \t or \xHH, for a message: inih can
 * hand over a header that runs across lines. */
static const char *escaped(const char *in, char *out, size_t cap)
{
	size_t o = 0;
	for (; *in && o + 5 < cap; in++) {
		unsigned char c = (unsigned char)*in;
		if (c == '\n')
			o += (size_t)snprintf(out + o, cap - o, "\\n");
		else if (c == '\t')
			o += (size_t)snprintf(out + o, cap - o, "\\t");
		else if (c < 0x20 || c == 0x7f)
			o += (size_t)snprintf(out + o, cap - o, "\\x%02x", c);
		else
			out[o++] = (char)c;
	}
	out[o] = '\0';
	return out;
}

/* Resolve "disk a" (file) to an instance, creating it; NULL after reporting. */
static struct cfg_inst *resolve_section(struct parse_ctx *p, const char *section_raw, int line)
{
	char base[128], section[512];
	const char *name = NULL;
	const struct opt_section *s;
	struct cfg_inst *in;

	escaped(section_raw, section, sizeof(section));
	snprintf(base, sizeof(base), "%s", section_raw);
	char *sp = strpbrk(base, " \t");
	if (sp) {
		*sp = '\0';
		name = sp + 1;
		while (*name == ' ' || *name == '\t')
			name++;
		if (!*name)
			name = NULL;
	}
	s = section_find(base);
	/* Report a bad section header once, not once per key under it. */
	if (!s || (s->named && !name) || (!s->named && name)) {
		if (!strcmp(p->last_bad_section, section))
			return NULL;
		snprintf(p->last_bad_section, sizeof(p->last_bad_section), "%s", section);
	}
	if (!s) {
		const char *sug = opt_suggest(base, section_names, 6, 0);
		char tail[256];
		escaped(name ? section_raw + (sp - base) : "", tail, sizeof(tail));
		if (sug)
			add_err(p, "%s:%d: unknown section [%s] (did you mean [%s%s]?)", p->file,
				line, section, sug, tail);
		else
			add_err(p, "%s:%d: unknown section [%s] (sections: bench, relay, node, "
				"disk NAME, workload, campaign)", p->file, line, section);
		return NULL;
	}
	if (s->named && !name) {
		add_err(p, "%s:%d: section [%s] needs a name: [%s NAME]", p->file, line,
			section, s->name);
		return NULL;
	}
	if (!s->named && name) {
		add_err(p, "%s:%d: section [%s] takes no name: [%s]", p->file, line, section,
			s->name);
		return NULL;
	}
	in = inst_find(p->cfg, s, name);
	if (!in) {
		in = inst_add(p->cfg, s, name);
		if (!in) {
			add_err(p, "%s:%d: cannot add section [%s]: %s", p->file, line, section,
				strerror(errno));
			return NULL;
		}
	}
	if (in->header_line <= 0)
		in->header_line = line;
	return in;
}

/* A key of a section with drivers, in a program that knows none: kept as written. */
static int raw_add(struct parse_ctx *p, struct cfg_inst *in, const char *key,
		   const char *value, int line, const char *where, const char *label)
{
	struct cfg_raw *r = NULL;

	for (size_t i = 0; i < in->n_raw; i++)
		if (!strcmp(in->raw[i].key, key))
			r = &in->raw[i];
	if (r && line > 0 && r->line > 0) {
		add_err(p, "%s: duplicate key '%s' in %s (first set on line %d)", where, key,
			label, r->line);
		return -EINVAL;
	}
	if (!r) {
		r = realloc(in->raw, (in->n_raw + 1) * sizeof(*r));
		if (!r)
			goto nomem;
		in->raw = r;
		r = &r[in->n_raw];
		*r = (struct cfg_raw){ .key = strdup(key) };
		if (!r->key)
			goto nomem;
		in->n_raw++;
	}
	char *v = strdup(value);
	if (!v)
		goto nomem;
	free(r->value);
	r->value = v;
	r->line = line;
	return 0;
nomem:
	add_err(p, "%s: cannot keep '%s': %s", where, key, strerror(ENOMEM));
	return -ENOMEM;
}

static int set_value(struct parse_ctx *p, struct cfg_inst *in, const char *key,
		     const char *value, int line, const char *where)
{
	char label[160];
	const struct opt_def *o = opt_find(in->sec, key);
	const struct cfg_schema *sch = schema_of(p->cfg, in->base);

	inst_label(in, label, sizeof(label));
	/* Kept unless it looks like a typo of one of the section's own keys. */
	if (!o && sch && !sch->drv &&
	    !opt_suggest(key, in->sec->opts, opt_count(in->sec), sizeof(struct opt_def))) {
		int rc = raw_add(p, in, key, value, line, where, label);
		p->last_opt = NULL;
		p->last_inst = in;
		for (size_t i = 0; rc == 0 && line > 0 && i < in->n_raw; i++)
			if (!strcmp(in->raw[i].key, key))
				p->last_raw = i + 1;
		return rc;
	}
	if (!o) {
		const char *sug = opt_suggest(key, in->sec->opts, opt_count(in->sec),
					      sizeof(struct opt_def));
		if (sug)
			add_err(p, "%s: unknown key '%s' in %s (did you mean '%s'?)", where, key,
				label, sug);
		else
			add_err(p, "%s: unknown key '%s' in %s", where, key, label);
		return -EINVAL;
	}
	size_t idx = (size_t)(o - in->sec->opts);
	if (line > 0 && in->lines[idx] > 0) {
		add_err(p, "%s: duplicate key '%s' in %s (first set on line %d)", where, key,
			label, in->lines[idx]);
		return -EINVAL;
	}
	int rc = opt_set(o, in->data, value);
	if (rc < 0) {
		if (err_count(p))
			opt_report(o, value, rc, where, label);
		return -EINVAL;
	}
	in->lines[idx] = line;
	p->last_inst = in;
	p->last_opt = o;
	return 0;
}

static int ini_handler_fn(void *user, const char *section, const char *key, const char *value)
{
	struct parse_ctx *p = user;
	char where[512];
	struct cfg_inst *in;

	snprintf(where, sizeof(where), "%s:%d", p->file, p->line);
	/* inih passes an indented line as another value of the previous key. */
	if (p->indented && p->last_raw && !strcmp(p->last_inst->raw[p->last_raw - 1].key, key)) {
		struct cfg_raw *r = &p->last_inst->raw[p->last_raw - 1];
		char *v;
		if (asprintf(&v, "%s %s", r->value, value) < 0) {
			add_err(p, "%s: invalid continuation of '%s'", where, key);
			return 1;
		}
		free(r->value);
		r->value = v;
		return 1;
	}
	p->last_raw = 0;
	if (p->indented && p->last_opt && !strcmp(p->last_opt->name, key)) {
		if (p->last_opt->type != OPT_LIST) {
			add_err(p, "%s: continuation line for '%s', which is not a list", where, key);
			return 1;
		}
		char **add = opt_split(value);
		char ***cur = (char ***)((char *)p->last_inst->data + p->last_opt->offset);
		size_t n = 0, m = 0;
		while (*cur && (*cur)[n])
			n++;
		while (add && add[m])
			m++;
		char **v = add ? realloc(*cur, (n + m + 1) * sizeof(char *)) : NULL;
		if (!v) {
			add_err(p, "%s: invalid continuation of '%s'", where, key);
			opt_list_free(add);
			return 1;
		}
		memcpy(v + n, add, (m + 1) * sizeof(char *));
		free(add);
		*cur = v;
		return 1;
	}
	p->head_keys++;
	if (!*section) {
		add_err(p, "%s: key '%s' outside of any section", where, key);
		return 1;
	}
	in = resolve_section(p, section, p->section_line);
	if (!in) {
		p->last_opt = NULL;
		return 1;
	}
	if (set_value(p, in, key, value, p->line, where) < 0)
		p->last_opt = NULL;
	/* Our own errors are collected; inih's return value then means syntax errors. */
	return 1;
}

/* Offset of the first byte of s[0..len) that is not well-formed UTF-8 (RFC 3629:
 * no overlong forms, no surrogates, nothing above U+10FFFF), or (size_t)-1. */
static size_t utf8_invalid_at(const char *str, size_t len)
{
	const unsigned char *s = (const unsigned char *)str;

	for (size_t i = 0; i < len;) {
		unsigned char c = s[i];
		size_t n;
		unsigned char lo = 0x80, hi = 0xbf;
		if (c < 0x80) {
			i++;
			continue;
		} else if (c >= 0xc2 && c <= 0xdf) {
			n = 1;
		} else if (c >= 0xe0 && c <= 0xef) {
			n = 2;
			if (c == 0xe0)
				lo = 0xa0;
			else if (c == 0xed)
				hi = 0x9f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 3;
			if (c == 0xf0)
				lo = 0x90;
			else if (c == 0xf4)
				hi = 0x8f;
		} else {
			return i;
		}
		if (i + n >= len)
			return i;
		for (size_t k = 1; k <= n; k++) {
			unsigned char b = s[i + k];
			if (k == 1 ? (b < lo || b > hi) : (b < 0x80 || b > 0xbf))
				return i;
		}
		i += n + 1;
	}
	return (size_t)-1;
}

/* The section header read last has ended: one without keys is a mistake (a section
 * left empty, or a typo that would otherwise vanish), reported on its line. */
static void head_end(struct parse_ctx *p)
{
	if (p->head_line && !p->head_keys) {
		char shown[512];
		if (resolve_section(p, p->head, p->head_line))
			add_err(p, "%s:%d: empty section [%s]", p->file, p->head_line,
				escaped(p->head, shown, sizeof(shown)));
	}
	p->head_line = 0;
	p->head_keys = 0;
}

static char *reader(char *str, int num, void *stream)
{
	struct parse_ctx *p = stream;
	const char *s = p->pos, *nl;
	size_t len;

	if (!*s) {
		head_end(p);
		return NULL;
	}
	nl = strchr(s, '\n');
	len = nl ? (size_t)(nl - s) + 1 : strlen(s);
	p->pos = s + len;
	p->line++;
	p->indented = *s == ' ' || *s == '\t';
	if (len + 1 > (size_t)num) {
		add_err(p, "%s:%d: line too long (at most %d bytes)", p->file, p->line, num - 2);
		p->head_keys++;
		snprintf(str, (size_t)num, "#\n");
		return str;
	}
	size_t bad = utf8_invalid_at(s, len);
	if (bad != (size_t)-1) {
		add_err(p, "%s:%d: invalid UTF-8 at byte %zu of the line", p->file, p->line, bad + 1);
		p->head_keys++;	/* its section is not empty, only wrong */
		snprintf(str, (size_t)num, "#\n");
		return str;
	}
	memcpy(str, s, len);
	str[len] = '\0';
	{
		const char *t = s;
		while (*t == ' ' || *t == '\t')
			t++;
		if (*t == '[') {
			/* As inih reads a header: up to the first ']', nothing stripped. */
			const char *e = memchr(t + 1, ']', len - (size_t)(t + 1 - s));
			head_end(p);
			/* inih starts no continuation after a header: neither do we. */
			p->last_opt = NULL;
			p->last_raw = 0;
			if (e && (size_t)(e - t - 1) < sizeof(p->head)) {
				snprintf(p->head, sizeof(p->head), "%.*s", (int)(e - t - 1), t + 1);
				p->head_line = p->line;
			}
			p->section_line = p->line;
		}
	}
	return str;
}

static const char *opt_label(const struct cfg_inst *in, char *buf, size_t len)
{
	return inst_label(in, buf, len);
}

static void apply_set(struct parse_ctx *p, const char *set)
{
	char where[512], path[256], *eq, *dot, *key;
	const struct opt_section *s;
	const char *name = NULL;
	struct cfg_inst *in;

	size_t bad = utf8_invalid_at(set, strlen(set));
	if (bad != (size_t)-1) {
		add_err(p, "--set: invalid UTF-8 at byte %zu", bad + 1);
		return;
	}
	snprintf(where, sizeof(where), "--set '%s'", set);
	eq = strchr(set, '=');
	if (!eq || (size_t)(eq - set) >= sizeof(path)) {
		add_err(p, "%s: expected section.key=value", where);
		return;
	}
	memcpy(path, set, (size_t)(eq - set));
	path[eq - set] = '\0';
	dot = strchr(path, '.');
	if (!dot) {
		add_err(p, "%s: expected section.key=value", where);
		return;
	}
	*dot = '\0';
	key = dot + 1;
	s = section_find(path);
	if (!s) {
		const char *sug = opt_suggest(path, section_names, 6, 0);
		add_err(p, "%s: unknown section '%s'%s%s%s", where, path,
			sug ? " (did you mean '" : "", sug ? sug : "", sug ? "'?)" : "");
		return;
	}
	if (s->named) {
		char *d2 = strchr(key, '.');
		if (!d2) {
			add_err(p, "%s: expected %s.NAME.key=value", where, s->name);
			return;
		}
		*d2 = '\0';
		name = key;
		key = d2 + 1;
	}
	in = inst_find(p->cfg, s, name);
	if (!in && !s->named)
		in = inst_add(p->cfg, s, NULL);
	if (!in) {
		add_err(p, "%s: no section [%s %s] in the bench", where, s->name, name);
		return;
	}
	set_value(p, in, key, eq + 1, -1, where);
}

static int cmp_disk(const void *a, const void *b)
{
	const struct cfg_disk *x = *(const struct cfg_disk *const *)a;
	const struct cfg_disk *y = *(const struct cfg_disk *const *)b;

	return strcmp(x->name, y->name);
}

static int line_of(const struct cfg_inst *in, const char *key)
{
	const struct opt_def *o = opt_find(in->sec, key);
	int l = o ? in->lines[o - in->sec->opts] : 0;

	return l > 0 ? l : in->header_line;
}

/* Bench and disk names become file and directory names (the bench lock, the run
 * directory, each disk's evidence): letters, digits, '.', '_' and '-', not starting
 * with a dot, so that none reaches outside its directory or hides in it. */
static bool name_plain(const char *name)
{
	if (!name || !*name || *name == '.')
		return false;
	for (const char *c = name; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
		      (*c >= '0' && *c <= '9') || *c == '.' || *c == '_' || *c == '-'))
			return false;
	return true;
}

/* The line to name for a finding about in: its key's line, its header's, or (a
 * section the file does not have) the file's last line. */
static int line_or_end(const struct parse_ctx *p, const struct cfg_inst *in, const char *key)
{
	int l = !in ? 0 : key ? line_of(in, key) : in->header_line;
	return l > 0 ? l : p->line > 0 ? p->line : 1;
}

static bool is_driver(const char *driver, const char *name)
{
	return driver && !strcmp(driver, name);
}

/* Bench and disk names: plain, and every required key set. */
static void validate_names(struct parse_ctx *p)
{
	struct bench_config *cfg = p->cfg;
	static const char plain[] = "(letters, digits, '.', '_' and '-', not starting with '.')";
	struct cfg_inst *bi = inst_find(cfg, &sec_bench, NULL);
	char shown[512], label[160];

	if (cfg->bench->name && !name_plain(cfg->bench->name))
		add_err(p, "%s:%d: invalid bench name '%s' in [bench] %s", p->file,
			line_or_end(p, bi, "name"), escaped(cfg->bench->name, shown, sizeof(shown)),
			plain);
	for (size_t i = 0; i < cfg->n_inst; i++) {
		struct cfg_inst *in = &cfg->inst[i];
		if (in->base == &sec_disk && !name_plain(in->name))
			add_err(p, "%s:%d: invalid disk name '%s' in [disk %s] %s", p->file,
				line_or_end(p, in, NULL), escaped(in->name, shown, sizeof(shown)),
				shown, plain);
	}
	for (size_t i = 0; i < cfg->n_inst; i++) {
		struct cfg_inst *in = &cfg->inst[i];
		const struct cfg_schema *sch = schema_of(cfg, in->base);
		for (const struct opt_def *o = in->sec->opts; o->name; o++) {
			/* A driver's required keys are checked with its driver. */
			if (!(o->flags & OPT_REQUIRED) || in->lines[o - in->sec->opts] ||
			    (sch && sch->drv && sch->owners[o - in->sec->opts]))
				continue;
			opt_label(in, label, sizeof(label));
			if (in->header_line > 0)
				add_err(p, "%s:%d: missing required key '%s' in %s", p->file,
					in->header_line, o->name, label);
			else
				add_err(p, "%s:%d: missing required key '%s' in %s (the file has no "
					"such section)", p->file, line_or_end(p, NULL, NULL), o->name,
					label);
		}
	}
}

/* "driver 'gpio'" or "drivers 'gpio', 'usbhid'": the drivers of owners. */
static void owner_names(const struct opt_drivers *d, uint32_t owners, char *buf, size_t len)
{
	size_t off = (size_t)snprintf(buf, len, "driver%s", owners & (owners - 1) ? "s" : "");

	for (size_t i = 0, k = 0; d->ops[i] && off < len; i++)
		if (owners & (1u << i))
			off += (size_t)snprintf(buf + off, len - off, "%s'%s'", k++ ? ", " : " ",
						opt_driver_name(d, i));
}

/* Where a key was set, for a message: "x.ini:7" or "--set relay.port". */
static const char *key_where(const struct parse_ctx *p, const struct cfg_inst *in,
			     const struct opt_def *o, char *buf, size_t len)
{
	int l = in->lines[o - in->sec->opts];

	if (l > 0)
		snprintf(buf, len, "%s:%d", p->file, l);
	else
		snprintf(buf, len, "--set %s.%s", in->sec->name, o->name);
	return buf;
}

/* Whether the key o of in holds its default (a canonical text lists every driver's
 * keys with their defaults: those parse again with any driver). */
static bool at_default(const struct cfg_inst *in, const struct opt_def *o)
{
	void *tmp = calloc(1, in->sec->size);
	char a[4096], b[4096];
	bool same;

	if (!tmp)
		return false;
	if (o->def)
		(void)opt_set(o, tmp, o->def);	/* the table was checked: it parses */
	opt_format(o, tmp, a, sizeof(a));
	opt_format(o, in->data, b, sizeof(b));
	same = !strcmp(a, b);
	if (o->type == OPT_STRING || o->type == OPT_LIST)
		same = same && !*(void **)((char *)tmp + o->offset) ==
			       !*(void *const *)((const char *)in->data + o->offset);
	opt_release(in->sec, tmp);
	free(tmp);
	return same;
}

/* The keys of the section's drivers (nbdkit: what no one takes is an error): the
 * driver is known, its required keys are set, and no other driver's key is set to
 * anything but its default. */
static void validate_driver_keys(struct parse_ctx *p, struct cfg_inst *in)
{
	const struct cfg_schema *sch = schema_of(p->cfg, in->base);
	const struct opt_def *dk = opt_find(in->sec, "driver");
	const char *driver = dk ? *(char *const *)((const char *)in->data + dk->offset) : NULL;
	char names[512], where[PATH_MAX + 32];
	uint32_t selected = 0;

	if (!sch || !sch->drv || !driver)
		return;
	for (size_t i = 0; sch->drv->ops[i]; i++)
		if (opt_driver_selected(sch->drv, i, driver))
			selected |= 1u << i;
	if (!selected) {
		const char *sug = opt_suggest(driver, sch->values, SIZE_MAX, 0);
		add_err(p, "%s:%d: unknown %s driver '%s' in [%s]%s%s%s (drivers: %s)", p->file,
			line_or_end(p, in, "driver"), in->sec->name, driver, in->sec->name,
			sug ? " (did you mean '" : "", sug ? sug : "", sug ? "'?)" : "",
			opt_join(sch->values, ", ", names, sizeof(names)));
		return;
	}
	for (const struct opt_def *o = in->sec->opts; o->name; o++) {
		size_t idx = (size_t)(o - in->sec->opts);
		uint32_t own = sch->owners[idx];
		if (!own)
			continue;
		if (!(own & selected)) {
			if (!in->lines[idx] || at_default(in, o))
				continue;
			owner_names(sch->drv, own, names, sizeof(names));
			add_err(p, "%s: key '%s' in [%s] is an option of %s, not of driver '%s'",
				key_where(p, in, o, where, sizeof(where)), o->name, in->sec->name,
				names, driver);
		} else if ((o->flags & OPT_REQUIRED) && !in->lines[idx]) {
			add_err(p, "%s:%d: missing required key '%s' in [%s] (driver '%s')", p->file,
				line_or_end(p, in, "driver"), o->name, in->sec->name, driver);
		} else if ((o->flags & OPT_REQUIRED) && o->type == OPT_LIST &&
			   !**(char **const *)((char *)in->data + o->offset)) {
			add_err(p, "%s: required key '%s' is empty in [%s] (driver '%s')",
				key_where(p, in, o, where, sizeof(where)), o->name, in->sec->name,
				driver);
		}
	}
}

static void validate_relay(struct parse_ctx *p)
{
	struct cfg_inst *ri = inst_find(p->cfg, &sec_relay, NULL);
	struct cfg_relay *r = p->cfg->relay;
	bool serial = is_driver(r->driver, "serial");

	validate_driver_keys(p, ri);
	validate_driver_keys(p, inst_find(p->cfg, &sec_node, NULL));
	if (r->channel >= r->channels)
		add_err(p, "%s:%d: channel %lld does not exist in [relay] (channels=%lld)",
			p->file, line_or_end(p, ri, "channel"), (long long)r->channel,
			(long long)r->channels);
	if (r->simulator && !serial)
		add_err(p, "%s:%d: simulator=yes needs driver=serial in [relay]", p->file,
			line_or_end(p, ri, "simulator"));
	if (r->simulator && r->channels > 2)
		add_err(p, "%s:%d: the simulator has at most 2 channels in [relay]", p->file,
			line_or_end(p, ri, "channels"));

	if (r->dc_source == DC_AUTO)
		r->dc_source = r->simulator ? DC_SIMULATOR : serial ? DC_PWROK : DC_RELAY;
	else if (r->dc_source == DC_SIMULATOR && !r->simulator)
		add_err(p, "%s:%d: dc_source=simulator needs simulator=yes in [relay]", p->file,
			line_or_end(p, ri, "dc_source"));
	else if (r->dc_source == DC_PWROK && !serial)
		add_err(p, "%s:%d: dc_source=pwrok needs driver=serial in [relay] (only the "
			"firmware senses PWR_OK)", p->file, line_or_end(p, ri, "dc_source"));
}

static void validate_disks(struct parse_ctx *p)
{
	struct bench_config *cfg = p->cfg;

	for (size_t i = 0; i < cfg->n_disks; i++) {
		const struct cfg_disk *d = cfg->disks[i];
		struct cfg_inst *di = inst_find(cfg, &sec_disk, d->name);
		if (d->workload != DISK_WL_BLOCKS && d->fs == DISK_FS_NONE)
			add_err(p, "%s:%d: workload=%s needs a file system (fs=ext4 or fs=xfs) in "
				"[disk %s]", p->file, line_of(di, "workload"),
				config_workload_name(d->workload), d->name);
		if (d->fs != DISK_FS_NONE && d->workload == DISK_WL_BLOCKS)
			add_err(p, "%s:%d: fs=%s needs workload=files or sqlite in [disk %s] (the block "
				"writer would overwrite the file system)", p->file, line_of(di, "fs"),
				config_fs_name(d->fs), d->name);
		if (d->fs != DISK_FS_NONE && (cfg->node->host || cfg->node->tier != NODE_TIER_FULL))
			add_err(p, "%s:%d: fs=%s needs the simulated node's full tier (tier=full; "
				"remote and Proxmox nodes do not make file systems yet) in [disk %s]",
				p->file, line_of(di, "fs"), config_fs_name(d->fs), d->name);
		if (d->mount_options && strpbrk(d->mount_options, " \t\"'\\"))
			add_err(p, "%s:%d: mount_options cannot hold spaces or quotes in [disk %s]",
				p->file, line_of(di, "mount_options"), d->name);
		if (d->fs != DISK_FS_NONE && d->keep)
			add_err(p, "%s:%d: fs=%s cannot be kept across cycles yet in [disk %s]",
				p->file, line_of(di, "keep"), config_fs_name(d->fs), d->name);
	}
	for (size_t i = 0; i < cfg->n_inst; i++) {
		struct cfg_inst *in = &cfg->inst[i];
		const struct cfg_disk *d = in->data;
		if (in->base != &sec_disk || (d->volblocksize & (d->volblocksize - 1)) == 0)
			continue;
		add_err(p, "%s:%d: volblocksize %llu is not a power of two in [disk %s]", p->file,
			line_of(in, "volblocksize"), (unsigned long long)d->volblocksize, in->name);
	}
}

static void validate(struct parse_ctx *p)
{
	struct bench_config *cfg = p->cfg;
	struct cfg_inst *ci = inst_find(cfg, &sec_campaign, NULL);

	validate_names(p);
	validate_relay(p);
	validate_disks(p);
	if (cfg->campaign->window_min_ms > cfg->campaign->window_max_ms)
		add_err(p, "%s:%d: window_min_ms is after window_max_ms in [campaign]", p->file,
			line_or_end(p, ci, "window_min_ms"));
}

static void schema_release(struct cfg_schema *sch)
{
	for (size_t i = 0; sch->helps && sch->opts[i].name; i++)
		free(sch->helps[i]);
	free(sch->helps);
	free(sch->opts);
	free(sch->owners);
	free(sch->values);
	*sch = (struct cfg_schema){ 0 };
}

/* Rows a, b by their fields' order (stable: equal offsets keep their order). */
static void schema_sort(struct cfg_schema *sch, size_t n)
{
	for (size_t i = 1; i < n; i++) {
		struct opt_def o = sch->opts[i];
		uint32_t w = sch->owners[i];
		size_t j = i;
		for (; j > 0 && sch->opts[j - 1].offset > o.offset; j--) {
			sch->opts[j] = sch->opts[j - 1];
			sch->owners[j] = sch->owners[j - 1];
		}
		sch->opts[j] = o;
		sch->owners[j] = w;
	}
}

/* Every value that names a driver, once, in the table's order; the driver key lists
 * them in help and docs. */
static int schema_values(struct cfg_schema *sch, size_t nd)
{
	size_t n = 0, cap = 1;
	struct opt_def *key = NULL;

	for (struct opt_def *o = sch->opts; o->name; o++)
		if (!strcmp(o->name, "driver"))
			key = o;
	if (!sch->drv || !key)
		return 0;
	for (size_t i = 0; i < nd; i++)
		for (const char *const *v = opt_driver_names(sch->drv, i); v && *v; v++)
			cap++;
	sch->values = calloc(cap + nd, sizeof(*sch->values));
	if (!sch->values)
		return -ENOMEM;
	for (size_t i = 0; i < nd; i++) {
		const char *const *v = opt_driver_names(sch->drv, i);
		const char *one[] = { opt_driver_name(sch->drv, i), NULL };
		for (v = v ? v : one; *v; v++) {
			size_t k = 0;
			while (k < n && strcmp(sch->values[k], *v))
				k++;
			if (k == n)
				sch->values[n++] = *v;
		}
	}
	key->values = sch->values;
	return 0;
}

/* Help and docs say which drivers a key belongs to. */
static int schema_helps(struct cfg_schema *sch, size_t n)
{
	char names[256];

	if (!sch->drv)
		return 0;
	sch->helps = calloc(n + 1, sizeof(*sch->helps));
	if (!sch->helps)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		if (!sch->owners[i])
			continue;
		owner_names(sch->drv, sch->owners[i], names, sizeof(names));
		if (asprintf(&sch->helps[i], "%s Only with %s.", sch->opts[i].help, names) < 0) {
			sch->helps[i] = NULL;
			return -ENOMEM;
		}
		sch->opts[i].help = sch->helps[i];
	}
	return 0;
}

/* base with the keys of drv (may be NULL: base alone). 0 or -errno (logged). */
static int schema_build(struct cfg_schema *sch, const struct opt_section *base,
			const struct opt_drivers *drv)
{
	size_t n = opt_count(base), cap = n, nd = 0;

	*sch = (struct cfg_schema){ .sec = *base, .drv = drv && drv->ops ? drv : NULL };
	if (sch->drv) {
		if (opt_drivers_check(drv, base->opts, base->name) < 0)
			return -EINVAL;
		for (; drv->ops[nd]; nd++)
			for (const struct opt_def *o = opt_driver_opts(drv, nd); o && o->name; o++)
				cap++;
		if (nd > 32) {
			pc_err(LOG_CONFIG, "more than 32 %s drivers", base->name);
			return -EINVAL;
		}
	}
	sch->opts = calloc(cap + 1, sizeof(*sch->opts));
	sch->owners = calloc(cap + 1, sizeof(*sch->owners));
	if (!sch->opts || !sch->owners) {
		schema_release(sch);
		return -ENOMEM;
	}
	memcpy(sch->opts, base->opts, n * sizeof(*sch->opts));
	for (size_t i = 0; i < nd; i++) {
		for (const struct opt_def *o = opt_driver_opts(drv, i); o && o->name; o++) {
			size_t k = 0;
			while (k < n && strcmp(sch->opts[k].name, o->name))
				k++;
			if (k == n)
				sch->opts[n++] = *o;
			sch->owners[k] |= 1u << i;
		}
	}
	schema_sort(sch, n);
	sch->sec.opts = sch->opts;
	if (schema_helps(sch, n) < 0)
		return -ENOMEM;
	return schema_values(sch, nd);
}

static int schemas_build(struct cfg_schema *sch, const struct bench_drivers *drivers)
{
	int rc = schema_build(&sch[0], &sec_relay, drivers ? &drivers->relay : NULL);

	if (rc == 0)
		rc = schema_build(&sch[1], &sec_node, drivers ? &drivers->node : NULL);
	return rc;
}

/* Every single section, with its defaults, present in the file or not. */
static int single_sections_add(struct parse_ctx *p)
{
	for (size_t i = 0; bench_sections[i]; i++) {
		if (bench_sections[i]->named)
			continue;
		if (!inst_add(p->cfg, bench_sections[i], NULL)) {
			add_err(p, "%s: cannot set up [%s]: %s", p->file, bench_sections[i]->name,
				strerror(errno));
			return -EINVAL;
		}
	}
	return 0;
}

/* The typed views of the instances: cfg->relay, ..., cfg->disks sorted by name. */
static int views_set(struct bench_config *cfg)
{
	for (size_t i = 0; i < cfg->n_inst; i++) {
		struct cfg_inst *in = &cfg->inst[i];
		if (in->base == &sec_bench)
			cfg->bench = in->data;
		else if (in->base == &sec_relay)
			cfg->relay = in->data;
		else if (in->base == &sec_node)
			cfg->node = in->data;
		else if (in->base == &sec_workload)
			cfg->workload = in->data;
		else if (in->base == &sec_campaign)
			cfg->campaign = in->data;
		else if (in->base == &sec_disk) {
			struct cfg_disk **d = realloc(cfg->disks, (cfg->n_disks + 1) * sizeof(*d));
			if (!d)
				return -ENOMEM;
			cfg->disks = d;
			d[cfg->n_disks++] = in->data;
		}
	}
	if (cfg->n_disks)
		qsort(cfg->disks, cfg->n_disks, sizeof(*cfg->disks), cmp_disk);
	return 0;
}

static struct bench_config *config_build(const char *file, const char *text,
					 char *const *sets, size_t n_sets,
					 const struct bench_drivers *drivers)
{
	struct parse_ctx p = { .file = file, .text = text, .pos = text };
	struct bench_config *cfg = calloc(1, sizeof(*cfg));
	int rc;

	if (!cfg || !(cfg->path = strdup(file)) ||
	    !(cfg->schema = calloc(N_SCHEMAS, sizeof(*cfg->schema))))
		goto nomem;
	p.cfg = cfg;
	if ((rc = schemas_build(cfg->schema, drivers)) < 0) {
		add_err(&p, "%s: cannot use the drivers' options: %s", file, strerror(-rc));
		goto fail;
	}
	if (single_sections_add(&p) < 0)
		goto fail;

	rc = ini_parse_stream(reader, &p, ini_handler_fn, &p);
	if (rc > 0)
		add_err(&p, "%s:%d: syntax error (expected '[section]' or 'key = value')", file, rc);
	else if (rc < 0)
		add_err(&p, "%s: cannot parse: %s", file, strerror(ENOMEM));
	for (size_t i = 0; i < n_sets; i++)
		apply_set(&p, sets[i]);
	if (views_set(cfg) < 0)
		goto nomem;
	validate(&p);
	if (p.errs_hidden)
		pc_err(LOG_CONFIG, "%s: %d more error(s) not shown", file, p.errs_hidden);
	if (p.n_errs)
		goto fail;
	return cfg;

nomem:
	add_err(&p, "%s: %s", file, strerror(ENOMEM));
fail:
	bench_config_free(cfg);
	errno = EINVAL;
	return NULL;
}

struct bench_config *bench_config_parse(const char *name, const char *text,
					char *const *sets, size_t n_sets,
					const struct bench_drivers *drivers)
{
	return config_build(name, text, sets, n_sets, drivers);
}

/* The whole file; NULL with errno (logged). A NUL byte makes it no text file. */
static char *file_text(const char *path)
{
	FILE *f = fopen(path, "re"), *m;
	char *text = NULL, buf[8192];
	size_t len = 0, n;

	if (!f) {
		int e = errno;
		pc_err(LOG_CONFIG, "cannot open bench '%s': %s", path, strerror(e));
		errno = e;
		return NULL;
	}
	m = open_memstream(&text, &len);
	while (m && (n = fread(buf, 1, sizeof(buf), f)) > 0)
		fwrite(buf, 1, n, m);
	int rerr = ferror(f);
	fclose(f);
	if (!m || fclose(m) != 0 || rerr) {
		free(text);
		pc_err(LOG_CONFIG, "cannot read bench '%s'", path);
		errno = EIO;
		return NULL;
	}
	const char *nul = memchr(text, '\0', len);
	if (nul) {
		int line = 1;
		for (const char *t = text; t < nul; t++)
			line += *t == '\n';
		free(text);
		pc_err(LOG_CONFIG, "%s:%d: NUL byte: not a text file", path, line);
		errno = EINVAL;
		return NULL;
	}
	return text;
}

struct bench_config *bench_config_load(const char *path, char *const *sets, size_t n_sets,
				       const struct bench_drivers *drivers)
{
	char *text = file_text(path);
	struct bench_config *cfg;

	if (!text)
		return NULL;
	cfg = config_build(path, text, sets, n_sets, drivers);
	int e = errno;
	free(text);
	errno = e;
	return cfg;
}

void bench_config_free(struct bench_config *cfg)
{
	if (!cfg)
		return;
	for (size_t i = 0; i < cfg->n_inst; i++) {
		struct cfg_inst *in = &cfg->inst[i];
		opt_release(in->sec, in->data);
		free(in->data);
		free(in->lines);
		free(in->name);
		for (size_t k = 0; k < in->n_raw; k++) {
			free(in->raw[k].key);
			free(in->raw[k].value);
		}
		free(in->raw);
	}
	for (size_t i = 0; cfg->schema && i < N_SCHEMAS; i++)
		schema_release(&cfg->schema[i]);
	free(cfg->schema);
	free(cfg->inst);
	free(cfg->disks);
	free(cfg->path);
	free(cfg);
}

/* Instances in canonical order: single sections in table order, disks by name. */
static size_t canonical_order(const struct bench_config *cfg, const struct cfg_inst **out)
{
	size_t n = 0;

	for (size_t s = 0; bench_sections[s]; s++) {
		if (bench_sections[s] == &sec_disk) {
			for (size_t d = 0; d < cfg->n_disks; d++)
				for (size_t i = 0; i < cfg->n_inst; i++)
					if (cfg->inst[i].data == cfg->disks[d])
						out[n++] = &cfg->inst[i];
			continue;
		}
		for (size_t i = 0; i < cfg->n_inst; i++)
			if (cfg->inst[i].base == bench_sections[s])
				out[n++] = &cfg->inst[i];
	}
	return n;
}

static void inst_text(FILE *f, const struct cfg_inst *in)
{
	char val[4096];

	for (const struct opt_def *o = in->sec->opts; o->name; o++) {
		const void *field = (const char *)in->data + o->offset;
		/* Unset is not the empty string: a comment keeps the text re-parseable
		 * into the same config. */
		if ((o->type == OPT_STRING || o->type == OPT_LIST) && !*(void *const *)field) {
			fprintf(f, "; %s is unset\n", o->name);
			continue;
		}
		opt_format(o, in->data, val, sizeof(val));
		fprintf(f, "%s = %s\n", o->name, val);
	}
	for (size_t k = 0; k < in->n_raw; k++)
		fprintf(f, "%s = %s\n", in->raw[k].key, in->raw[k].value);
}

char *bench_config_text(const struct bench_config *cfg)
{
	const struct cfg_inst **order = calloc(cfg->n_inst + 1, sizeof(*order));
	char *text = NULL, label[160];
	size_t len = 0, n;
	FILE *f;

	if (!order)
		return NULL;
	f = open_memstream(&text, &len);
	if (!f) {
		free(order);
		return NULL;
	}
	n = canonical_order(cfg, order);
	for (size_t i = 0; i < n; i++) {
		fprintf(f, "%s%s\n", i ? "\n" : "", inst_label(order[i], label, sizeof(label)));
		inst_text(f, order[i]);
	}
	free(order);
	if (fclose(f) != 0) {
		free(text);
		return NULL;
	}
	return text;
}

json_t *bench_config_json(const struct bench_config *cfg)
{
	json_t *root = json_object(), *disks = json_object();

	if (!root || !disks)
		goto fail;
	for (size_t i = 0; i < cfg->n_inst; i++) {
		const struct cfg_inst *in = &cfg->inst[i];
		json_t *o = json_object();
		if (!o)
			goto fail;
		for (const struct opt_def *d = in->sec->opts; d->name; d++)
			json_object_set_new(o, d->name, opt_json(d, in->data));
		for (size_t k = 0; k < in->n_raw; k++)
			json_object_set_new(o, in->raw[k].key, json_string(in->raw[k].value));
		if (in->sec->named)
			json_object_set_new(disks, in->name, o);
		else
			json_object_set_new(root, in->sec->name, o);
	}
	json_object_set_new(root, "disks", disks);
	return root;
fail:
	json_decref(disks);
	json_decref(root);
	return NULL;
}

int sha256_hex(const void *data, size_t len, char out[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;

	if (!EVP_Digest(data, len, md, &n, EVP_sha256(), NULL) || n != 32)
		return -EIO;
	for (unsigned i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
	return 0;
}

int bench_config_hash(const struct bench_config *cfg, char out[65])
{
	char *t = bench_config_text(cfg);
	int rc;

	if (!t)
		return -ENOMEM;
	rc = sha256_hex(t, strlen(t), out);
	free(t);
	return rc;
}

/* The sections as a program with these drivers reads them (help, docs). */
static int sections_with(const struct bench_drivers *drivers, struct cfg_schema *sch,
			 const struct opt_section **out)
{
	int rc;

	memset(sch, 0, N_SCHEMAS * sizeof(*sch));
	rc = schemas_build(sch, drivers);
	for (size_t i = 0; bench_sections[i]; i++)
		out[i] = bench_sections[i] == &sec_relay ? &sch[0].sec :
			 bench_sections[i] == &sec_node ? &sch[1].sec : bench_sections[i];
	return rc;
}

void bench_config_help(FILE *f, const struct bench_drivers *drivers)
{
	struct cfg_schema sch[N_SCHEMAS];
	const struct opt_section *secs[8];

	if (sections_with(drivers, sch, secs) == 0)
		for (size_t i = 0; bench_sections[i]; i++) {
			opt_help(f, secs[i]);
			fputc('\n', f);
		}
	schema_release(&sch[0]);
	schema_release(&sch[1]);
}

static void markdown_section(FILE *f, const struct opt_section *s)
{
	char t[256];

	fprintf(f, "\n## [%s%s]\n\n%s\n\n| key | type | default | range | meaning |\n"
		"|---|---|---|---|---|\n", s->name, s->named ? " NAME" : "", s->help);
	for (const struct opt_def *o = s->opts; o->name; o++) {
		char rng[80] = "";
		if (o->min < o->max && o->type != OPT_ENUM)
			opt_range_text(o, rng, sizeof(rng));
		/* A '|' would end the table cell: enum values are listed with slashes.
		 * Only enums are written into t; other types return a constant. */
		const char *tn = opt_type_name(o, t, sizeof(t));
		if (tn != t)
			snprintf(t, sizeof(t), "%s", tn);
		for (char *q = t; *q; q++)
			if (*q == '|')
				*q = '/';
		fprintf(f, "| `%s` | %s | %s | %s | %s |\n", o->name, t,
			(o->flags & OPT_REQUIRED) ? "required" :
			(o->def && *o->def ? o->def : "unset"),
			rng, o->help);
	}
}

void bench_config_markdown(FILE *f, const struct bench_drivers *drivers)
{
	struct cfg_schema sch[N_SCHEMAS];
	const struct opt_section *secs[8];

	fprintf(f, "# Bench configuration\n\n"
		"<!-- Generated by `powercut config doc` from the option tables in "
		"host/lib/config.c and the drivers' own (host/relay, host/node); do not "
		"edit. -->\n\n"
		"A bench is an INI file (like a fio job file), for example "
		"`rig/benches/sim.ini`. Every key below may also be given on the command line "
		"as `--set section.key=value` (`--set disk.NAME.key=value` for a disk), which "
		"overrides the file. Mistakes are reported with file, line and key, for "
		"example\n\n"
		"    rig/benches/x.ini:12: unknown key 'cach' in [disk qcow2] (did you mean 'cache'?)\n\n"
		"The file must be UTF-8; a section without keys, an unknown section and a bench "
		"or disk name that is not plain (letters, digits, `.`, `_`, `-`, not starting "
		"with `.`: names become file names) are mistakes too. At most 20 are shown, "
		"then their count.\n\n"
		"`[relay] driver` and `[node] driver` name a driver. The keys of one driver "
		"(their meaning ends with *Only with driver ...*) come from that driver's own "
		"table (host/relay, host/node): set with another driver they are a mistake, "
		"reported at their line.\n\n"
		"Value syntax: bool `yes`/`no` (also true/false, on/off, 1/0); sizes `4096`, "
		"`4K`, `128KiB`, `1G` (binary units); durations `250` (milliseconds), `250ms`, "
		"`2s`, `5m`, `1h`; lists are words separated by blanks with `'single'` or "
		"`\"double\"` quotes (an argument vector: never run by a shell); an indented "
		"line continues a list.\n\n"
		"The effective configuration (every key, defaults included) is stored with "
		"every campaign together with its SHA-256; `powercut config show BENCH.ini "
		"[--json]` prints it.\n");
	if (sections_with(drivers, sch, secs) == 0)
		for (size_t i = 0; bench_sections[i]; i++)
			markdown_section(f, secs[i]);
	schema_release(&sch[0]);
	schema_release(&sch[1]);
}

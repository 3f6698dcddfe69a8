/* Prometheus text exposition (format 0.0.4) of a report and a campaign's status, for
 * `powercut serve`'s /metrics (docs/report.md, "Live view"). One family per quantity,
 * one series per cell labelled by what makes the cell. */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "render.h"

/* A label value: backslash, double quote and newline escaped, as the format says. */
static void label(FILE *f, const char *name, const char *v, bool first)
{
	fprintf(f, "%s%s=\"", first ? "" : ",", name);
	for (; *v; v++) {
		if (*v == '\\' || *v == '"')
			fprintf(f, "\\%c", *v);
		else if (*v == '\n')
			fputs("\\n", f);
		else
			fputc(*v, f);
	}
	fputc('"', f);
}

static void cell_labels(FILE *f, const struct report *r, size_t i)
{
	const struct report_cell *c = &r->cells[i];
	/* Not the cell's number: it moves when a new cell sorts before it. The key is
	 * what makes a cell, and stays. */
	fputc('{', f);
	label(f, "bench", c->bench, true);
	label(f, "cut", c->cut, false);
	label(f, "disk", c->disk, false);
	label(f, "format", c->format, false);
	label(f, "cache", c->cache, false);
	label(f, "control", report_control_name(c->control), false);
	label(f, "key", c->key, false);
	fputc('}', f);
}

static void family(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

enum { M_CYCLES, M_VERIFIED, M_VIOL, M_UNFL, M_UNFL_BLOCKS, M_NODE_LOST, M_N };

static uint64_t cell_value(const struct report_cell *c, int m)
{
	switch (m) {
	case M_CYCLES: return c->cycles;
	case M_VERIFIED: return c->verified;
	case M_VIOL: return c->violation_cycles;
	case M_UNFL: return c->unflushed_loss_cycles;
	case M_UNFL_BLOCKS: return c->tax_blocks[CLS_UNFLUSHED_LOST_OLDER] + c->tax_blocks[CLS_UNFLUSHED_LOST_ZERO];
	default: return c->node_lost;
	}
}

int report_metrics(const struct report *r, json_t *status, FILE *f)
{
	static const struct { const char *name, *help; } m[M_N] = {
		{ "powercut_cycles_total", "Disk-cycles run, per cell." },
		{ "powercut_verified_cycles_total", "Disk-cycles the oracle classified, per cell." },
		{ "powercut_violation_cycles_total", "Verified disk-cycles with a violation "
		  "(flushed data lost, corrupt or misdirected), per cell." },
		{ "powercut_unflushed_loss_cycles_total", "Verified disk-cycles that lost unflushed "
		  "writes, per cell." },
		{ "powercut_unflushed_lost_blocks_total", "Blocks whose unflushed writes were lost, "
		  "summed over cycles, per cell." },
		{ "powercut_node_lost_cycles_total", "Disk-cycles in which the node never came back "
		  "to be checked, per cell." },
	};
	uint64_t lost = 0;

	for (int k = 0; k < M_N; k++) {
		family(f, m[k].name, "counter", m[k].help);
		for (size_t i = 0; i < r->n_cells; i++) {
			fputs(m[k].name, f);
			cell_labels(f, r, i);
			fprintf(f, " %" PRIu64 "\n", cell_value(&r->cells[i], k));
		}
	}
	/* A cycle whose node was lost is lost for all its disks: count cycles once. */
	for (size_t cy = 0; cy < r->n_cycles; cy++)
		lost += !strcmp(r->cycles[cy].status, "node-lost");
	family(f, "powercut_nodes_lost_total", "counter", "Cycles after which the node did not "
	       "come back (every campaign in the database).");
	fprintf(f, "powercut_nodes_lost_total %" PRIu64 "\n", lost);
	family(f, "powercut_controls_failed", "gauge", "Control cells that did not behave as "
	       "required (0 when all passed or there are none).");
	fprintf(f, "powercut_controls_failed %zu\n", r->controls_failed);
	if (status) {
		json_t *s = json_object_get(status, "seconds_since_last_cycle");
		json_int_t camp = json_integer_value(json_object_get(status, "campaign"));
		family(f, "powercut_seconds_since_last_cycle", "gauge", "Seconds since the newest "
		       "campaign's last cycle started (-1 before its first).");
		fprintf(f, "powercut_seconds_since_last_cycle %.3f\n", json_is_number(s) ?
			json_number_value(s) : -1.0);
		family(f, "powercut_campaign_running", "gauge", "1 while the newest campaign runs.");
		fprintf(f, "powercut_campaign_running{campaign=\"%" JSON_INTEGER_FORMAT "\"} %d\n", camp,
			!strcmp(json_string_value(json_object_get(status, "status")), "running"));
		family(f, "powercut_campaign_cycles", "gauge", "Cycles of the newest campaign so far.");
		fprintf(f, "powercut_campaign_cycles{campaign=\"%" JSON_INTEGER_FORMAT "\"} %"
			JSON_INTEGER_FORMAT "\n", camp, json_integer_value(json_object_get(status, "cycles")));
		json_t *p = json_object_get(status, "planned");
		if (json_is_integer(p)) {
			family(f, "powercut_campaign_planned_cycles", "gauge", "Cycles the newest "
			       "campaign plans.");
			fprintf(f, "powercut_campaign_planned_cycles{campaign=\"%" JSON_INTEGER_FORMAT
				"\"} %" JSON_INTEGER_FORMAT "\n", camp, json_integer_value(p));
		}
	}
	return ferror(f) ? -EIO : 0;
}

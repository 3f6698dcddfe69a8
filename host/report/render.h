/* Internal to host/report: helpers shared by the renderers (render_*.c, svg.c,
 * explored.c, compare.c, status.c). Like everything host/report shares between its
 * files, they are report_*; helpers used in one file are static and unprefixed. */
#ifndef PC_REPORT_RENDER_H
#define PC_REPORT_RENDER_H

#include <stdbool.h>
#include <stdio.h>

#include "report.h"

/* "12.5 %" with a precision that suits the value. */
void report_pct(char *buf, size_t len, double v);
/* "3/200 = 1.5 % [0.51 %, 4.3 %]" or, with k = 0, "0/200 = 0 % [0, 1.8 %] ≤1.5 %". */
void report_rate_str(char *buf, size_t len, const struct report_rate *rt);
/* "149 more" / "bounded" / "rate above target". */
void report_needed_str(char *buf, size_t len, const struct report_rate *rt);
const char *report_ctl_state_name(int state);
/* "" or "; N cycle(s) cut before its first flush, which cannot show a lie" (static). */
const char *report_unexercised(const struct report_cell *c);
const char *report_control_name(int control);
/* "power cut", "process kill" or "system reset" for a cell's cut kind. */
const char *report_cut_title(const char *cut);
/* The `powercut show` command line of a unit's cycle. */
void report_show_cmd(char *buf, size_t len, const struct report *r, const struct report_unit *u);
/* The HTML anchor of a cycle's detail. */
void report_anchor(char *buf, size_t len, const struct report *r, size_t cycle);
/* ISO 8601 UTC of a wall time. */
void report_time(char *buf, size_t len, int64_t wall_ns);

void report_html_esc(FILE *f, const char *s);

/* Inline SVG plots (svg.c). */
/* Blocks lost against time since the last flush: the tested cells, or the controls. */
void report_svg_losses(const struct report *r, FILE *f, bool controls);
void report_svg_forest(const struct report *r, FILE *f);
void report_svg_exposure(const struct report *r, FILE *f);
void report_svg_holdup(const struct report *r, FILE *f);
void report_svg_timeline(const struct report *r, FILE *f);
/* Colour of cell i in the plots. */
const char *report_cell_colour(size_t i);

/* The "explored" section (explored.c); nothing when no state was explored. */
void report_explored_html(const struct report *r, FILE *f);
void report_explored_md(const struct report *r, FILE *f);

int report_render_html(const struct report *r, FILE *f);
int report_render_md(const struct report *r, FILE *f);
int report_render_csv(const struct report *r, FILE *f);
int report_render_summary(const struct report *r, FILE *f);

#endif

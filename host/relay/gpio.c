/* The gpio relay: one GPIO line drives the relay through libgpiod (the 1.6 API that
 * Debian 12 ships). The line request is taken at open and held for the life of the
 * process, so no other program can flip it meanwhile; it is requested at the level
 * that leaves the node powered. active_level is the level that energizes the relay,
 * i.e. cuts power. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gpiod.h>

#include "gpio.h"
#include "log.h"
#include "relay.h"

struct gpiod_handle {
	struct gpiod_chip *chip;
	struct gpiod_line *line;
};

static void gd_close(void *h)
{
	struct gpiod_handle *g = h;

	if (!g)
		return;
	if (g->line)
		gpiod_line_release(g->line);
	if (g->chip)
		gpiod_chip_close(g->chip);
	free(g);
}

static int gd_open(void **hp, const char *chip, unsigned line, int initial)
{
	struct gpiod_handle *g = calloc(1, sizeof(*g));
	int rc;

	if (!g)
		return -ENOMEM;
	g->chip = gpiod_chip_open_lookup(chip);
	if (!g->chip) {
		rc = -errno;
		goto fail;
	}
	g->line = gpiod_chip_get_line(g->chip, line);
	if (!g->line) {
		rc = -errno;
		goto fail;
	}
	if (gpiod_line_request_output(g->line, "powercut", initial) < 0) {
		rc = -errno;
		g->line = NULL;
		goto fail;
	}
	*hp = g;
	return 0;
fail:
	gd_close(g);
	return rc;
}

static int gd_set(void *h, int value)
{
	return gpiod_line_set_value(((struct gpiod_handle *)h)->line, value) < 0 ? -errno : 0;
}

static int gd_get(void *h)
{
	int v = gpiod_line_get_value(((struct gpiod_handle *)h)->line);

	return v < 0 ? -errno : v;
}

static const struct gpio_transport gpiod_transport = {
	.open = gd_open, .set = gd_set, .get = gd_get, .close = gd_close,
};

static const struct gpio_transport *transport = &gpiod_transport;

void gpio_set_transport(const struct gpio_transport *t)
{
	transport = t ? t : &gpiod_transport;
}

struct gpio_priv {
	const struct gpio_transport *t;
	void *h;
};

/* The line level for a power state. */
static int level(struct relay *r, bool power_on)
{
	int energize = !power_on;

	return r->cfg->relay->active_level == ACTIVE_HIGH ? energize : !energize;
}

static int gpio_open(struct relay *r)
{
	const struct cfg_relay *c = r->cfg->relay;
	struct gpio_priv *p = calloc(1, sizeof(*p));
	int rc;

	if (!p)
		return -ENOMEM;
	p->t = transport;
	rc = p->t->open(&p->h, c->gpio_chip, (unsigned)c->gpio_line, level(r, true));
	if (rc < 0) {
		pc_err(LOG_RELAY, "cannot request GPIO line %lld of '%s': %s", (long long)c->gpio_line,
		       c->gpio_chip, strerror(-rc));
		free(p);
		return rc;
	}
	r->priv = p;
	return 0;
}

static void gpio_close(struct relay *r)
{
	struct gpio_priv *p = r->priv;

	p->t->close(p->h);
	free(p);
}

/* One line, one channel: the bench's. */
static int gpio_switch(struct relay *r, int ch, bool power_on)
{
	struct gpio_priv *p = r->priv;
	int rc;

	if (ch != r->cfg->relay->channel) {
		pc_err(LOG_RELAY, "the gpio relay drives only channel %lld", (long long)r->cfg->relay->channel);
		return -EINVAL;
	}
	rc = p->t->set(p->h, level(r, power_on));
	if (rc < 0)
		pc_err(LOG_RELAY, "cannot set GPIO line %lld of '%s': %s",
		       (long long)r->cfg->relay->gpio_line, r->cfg->relay->gpio_chip, strerror(-rc));
	return rc;
}

static int gpio_on(struct relay *r, int ch)
{
	return gpio_switch(r, ch, true);
}

static int gpio_off(struct relay *r, int ch)
{
	return gpio_switch(r, ch, false);
}

static int gpio_status(struct relay *r, struct relay_status *s)
{
	struct gpio_priv *p = r->priv;
	int v = p->t->get(p->h);

	if (v < 0)
		return v;
	snprintf(s->id, sizeof(s->id), "%s:%lld", r->cfg->relay->gpio_chip,
		 (long long)r->cfg->relay->gpio_line);
	for (int ch = 0; ch < s->channels && ch < RELAY_MAX_CH; ch++)
		s->state[ch] = RELAY_UNKNOWN;
	s->state[r->cfg->relay->channel] = v == level(r, true) ? RELAY_ON : RELAY_OFF;
	return 0;
}

/* Keys of [relay] only this driver reads (config.h, "Drivers own their keys"). */
static const struct opt_def gpio_options[] = {
	{ "gpio_chip", OPT_STRING, RELAY_CFG(gpio_chip), "gpiochip0", OPT_NOLIMIT, NULL,
	  "gpio: chip name or path.", 0 },
	{ "gpio_line", OPT_INT, RELAY_CFG(gpio_line), "-1", -1, 1023, NULL,
	  "gpio: line offset driving the relay (required with driver=gpio).", OPT_REQUIRED },
	RELAY_OPT_ACTIVE_LEVEL,
	{ 0 }
};

const struct relay_ops relay_gpio_ops = {
	.version = RELAY_OPS_VERSION,
	.name = "gpio",
	.help = "a relay on a GPIO line (libgpiod)",
	.options = gpio_options,
	.open = gpio_open,
	.close = gpio_close,
	.on = gpio_on,
	.off = gpio_off,
	.status = gpio_status,
};

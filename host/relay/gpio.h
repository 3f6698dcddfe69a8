/* The gpio relay's transport seam: gpio.c implements it with libgpiod (1.6 API), tests
 * with a fake that records every line value. */
#ifndef PC_GPIO_RELAY_H
#define PC_GPIO_RELAY_H

struct gpio_transport {
	/* Request `line` of `chip` as an output at `initial`, held until close. */
	int (*open)(void **h, const char *chip, unsigned line, int initial);
	int (*set)(void *h, int value);
	int (*get)(void *h);		/* 0, 1 or -errno */
	void (*close)(void *h);
};

/* For tests: replace the libgpiod transport (NULL restores it). */
void gpio_set_transport(const struct gpio_transport *t);

#endif

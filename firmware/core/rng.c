#include "rng.h"

void fw_rng_seed(struct fw_rng *rng, uint32_t seed)
{
	rng->state = seed;
}

uint64_t fw_rng_next(struct fw_rng *rng)
{
	uint64_t z = (rng->state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

uint32_t fw_rng_below(struct fw_rng *rng, uint32_t n)
{
	/* 32-bit arithmetic: a 64-bit modulo costs the AVR far more flash and time,
	 * and spans up to one hour in microseconds fit in 32 bits. */
	uint32_t threshold = (uint32_t)(0u - n) % n;
	uint32_t x;

	do
		x = (uint32_t)(fw_rng_next(rng) >> 32);
	while (x < threshold);
	return x % n;
}

uint32_t fw_arm_offset(uint32_t seed, uint32_t span_us)
{
	struct fw_rng rng;

	fw_rng_seed(&rng, seed);
	if (span_us == UINT32_MAX)
		return (uint32_t)(fw_rng_next(&rng) >> 32);
	return fw_rng_below(&rng, span_us + 1);
}

/* Seeded PRNG of the `arm` scheduler: splitmix64 (Steele, Lea, Flood 2014).
 *
 * The generator is specified exactly in docs/protocol.md so that the host can
 * reproduce the cut moment the firmware picks from a seed.
 */
#ifndef FW_RNG_H
#define FW_RNG_H

#include <stdint.h>

struct fw_rng {
	uint64_t state;
};

/* Seed the generator: state = seed (zero-extended). */
void fw_rng_seed(struct fw_rng *rng, uint32_t seed);

/* Next 64-bit output of splitmix64. */
uint64_t fw_rng_next(struct fw_rng *rng);

/* Uniform integer in [0, n - 1] for n >= 1, without bias: the upper 32 bits of each
 * output are drawn until one is at least (2^32 - n) mod n, then reduced mod n. */
uint32_t fw_rng_below(struct fw_rng *rng, uint32_t n);

/* The offset in microseconds, uniform over [0, span_us] inclusive, that `arm` adds to
 * its earliest moment for `seed`: fw_rng_below(seeded rng, span_us + 1), or a full
 * 32-bit draw when span_us is UINT32_MAX. */
uint32_t fw_arm_offset(uint32_t seed, uint32_t span_us);

#endif

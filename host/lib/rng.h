/* The one pseudo-random generator of the host side: splitmix64 (Steele, Lea and
 * Flood), tiny, seedable and good enough for schedules, plans and victims. The same
 * seed gives the same sequence on every machine, which is what makes a campaign's
 * plan, an agent's write pattern and an exploration reproducible. Header-only, for
 * the static agent and the simulator's programs. (The firmware keeps its own
 * generator, firmware/core.) */
#ifndef PC_RNG_H
#define PC_RNG_H

#include <stdint.h>

/* Advances *state and returns the next value. */
static inline uint64_t rng_splitmix64(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

#endif

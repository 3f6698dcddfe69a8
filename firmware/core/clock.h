/* Extension of a 16-bit hardware counter to 64 bits.
 *
 * The timer counts ticks in a 16-bit register; its overflow interrupt counts wraps in
 * software. A reader that samples both while the overflow interrupt is held off (in a
 * critical section or inside another interrupt) can see the counter already wrapped
 * while the wrap is not counted yet: the overflow flag is then pending.
 */
#ifndef FW_CLOCK_H
#define FW_CLOCK_H

#include <stdbool.h>
#include <stdint.h>

/* Ticks since start from `wraps` (wraps counted by the overflow interrupt, 48 bits
 * used: the 64-bit result never wraps in the life of the part), `count`
 * (the 16-bit counter) and `ovf_pending` (the overflow flag was set when sampled).
 * A pending overflow belongs to this sample only if count is in the lower half: a
 * count in the upper half was read before the wrap that set the flag. All three must
 * be sampled with the overflow interrupt held off, count and flag within half a
 * counter period of each other (a few cycles in practice). */
uint64_t fw_clock_ticks(uint64_t wraps, uint16_t count, bool ovf_pending);

/* The wrap count of an earlier sample of which only the low 16 bits were kept
 * (`then_low`), from the count now (`now`, not less than the earlier one): right
 * while fewer than 65536 wraps lie between. Interrupt handlers keep only those bits,
 * which saves them registers and cycles. */
uint64_t fw_clock_wraps_then(uint64_t now, uint16_t then_low);

#endif

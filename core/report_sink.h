/* SPDX-License-Identifier: MIT */
/*
 * The one interface between a reporting engine and whoever carries its
 * reports to the host: report(ranges, n). In the guest the sink is the
 * virtio-balloon driver; in hosted tests it is a fake that records.
 *
 * Contract:
 *  - every range is guest-physical, page aligned, non-empty, and isolated
 *    from the allocator by the caller for the whole call;
 *  - n <= capacity; a sink refuses (returns -1 without reporting) a call
 *    with more, and an engine checks capacity when it is attached;
 *  - report() returns only after the device has used (acknowledged) the
 *    request: 0 if it was acknowledged, negative if it could not be sent
 *    or the device failed. Either way the ranges are the caller's again
 *    when it returns, and the caller puts them back in the allocator.
 */
#ifndef PH_REPORT_SINK_H
#define PH_REPORT_SINK_H

#include <stdint.h>

struct ph_range {
	uint64_t addr; /* guest-physical byte address */
	uint64_t len;  /* bytes */
};

struct ph_report_sink {
	int (*report)(struct ph_report_sink *sink, const struct ph_range *ranges, unsigned n);
	unsigned capacity; /* most ranges one report() may carry */
};

#endif

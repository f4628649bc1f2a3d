// The metric families ringmta exposes, declared once per shard registry so every
// shard's snapshot has the same names, types and labels (merge() requires it).
// The engine keeps references to the series it bumps (per destination, made when
// the destination's queue is created); see src/observe/README.md for the list.
#pragma once

#include <ringmta/observe/metrics.h>

namespace ringmta::observe {

struct mta_metrics {
    explicit mta_metrics(metrics_registry& registry);

    // Counters, label "domain" (the budget key: "gmail.com", "group:google").
    metric_family& delivered;            // ringmta_delivered_total
    metric_family& deferred;             // ringmta_deferred_total
    metric_family& bounced;              // ringmta_bounced_total
    metric_family& connections_opened;   // ringmta_connections_opened_total
    // Labels "domain", "kind" (decrease, increase, suspend, resume): every
    // adaptive-backoff change, each also logged with its reason.
    metric_family& throttle_changes;     // ringmta_throttle_changes_total
    // Labels "domain", "signal" (421, connection refused, timeout, throttling reply).
    metric_family& throttle_signals;     // ringmta_throttle_signals_total
    // Gauges, label "domain".
    metric_family& queued;               // ringmta_queued_recipients
    metric_family& in_flight;            // ringmta_in_flight_recipients
    metric_family& connections;          // ringmta_connections
    metric_family& connections_allowed;  // ringmta_connections_allowed (set by the owner)
    metric_family& rate_allowed;         // ringmta_message_rate_allowed_per_second (owner)
    metric_family& suspended;            // ringmta_suspended (1 while suspended; owner)
    // Histogram, no labels: seconds from arrival to final delivery.
    metric_family& delivery_seconds;     // ringmta_delivery_seconds
};

}  // namespace ringmta::observe

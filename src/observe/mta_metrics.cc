// The metric families ringmta exposes. See include/ringmta/observe/mta_metrics.h.
#include <ringmta/observe/mta_metrics.h>

namespace ringmta::observe {

namespace {

std::vector<double> delivery_bounds() {
    return {0.1, 0.5, 1, 5, 30, 60, 300, 1800, 3600, 21600, 86400};
}

}  // namespace

mta_metrics::mta_metrics(metrics_registry& r)
    : delivered(r.add_counter("ringmta_delivered_total", "Recipients delivered.", {"domain"})),
      deferred(r.add_counter("ringmta_deferred_total",
                             "Delivery attempts deferred (4xx or no connection).", {"domain"})),
      bounced(r.add_counter("ringmta_bounced_total", "Recipients bounced or expired.",
                            {"domain"})),
      connections_opened(r.add_counter("ringmta_connections_opened_total",
                                       "Outbound connections opened.", {"domain"})),
      throttle_changes(r.add_counter("ringmta_throttle_changes_total",
                                     "Adaptive backoff changes of a destination's limits.",
                                     {"domain", "kind"})),
      throttle_signals(r.add_counter("ringmta_throttle_signals_total",
                                     "Throttling signals from receivers.", {"domain", "signal"})),
      queued(r.add_gauge("ringmta_queued_recipients", "Recipients queued (ready or deferred).",
                         {"domain"})),
      in_flight(r.add_gauge("ringmta_in_flight_recipients", "Recipients being delivered.",
                            {"domain"})),
      connections(r.add_gauge("ringmta_connections", "Outbound connections open.", {"domain"})),
      connections_allowed(r.add_gauge("ringmta_connections_allowed",
                                      "Connections the adaptive backoff allows now.",
                                      {"domain"})),
      rate_allowed(r.add_gauge("ringmta_message_rate_allowed_per_second",
                               "Message rate the adaptive backoff allows now (0: no limit).",
                               {"domain"})),
      suspended(r.add_gauge("ringmta_suspended", "1 while the destination is suspended.",
                            {"domain"})),
      delivery_seconds(r.add_histogram("ringmta_delivery_seconds",
                                       "Seconds from arrival to delivery.", delivery_bounds())) {}

}  // namespace ringmta::observe

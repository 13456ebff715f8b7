#include "engine/wire/auto_compression.h"

#include <fmt/format.h>

#include <algorithm>

#include "engine/memory/page.h"

namespace ferry::wire {
namespace {
// Weight of the newest round in the smoothed estimates.
constexpr double kNewWeight = 0.5;
}  // namespace

AutoCompression::AutoCompression(std::vector<PageEncoding> candidates)
    : candidates_(std::move(candidates)) {
  if (std::find(candidates_.begin(), candidates_.end(), PageEncoding::raw) == candidates_.end())
    candidates_.insert(candidates_.begin(), PageEncoding::raw);
  estimates_.resize(candidates_.size());
  explanation_ = "raw until measured";
}

AutoCompression::Estimate* AutoCompression::find(PageEncoding encoding) {
  for (std::size_t i = 0; i < candidates_.size(); ++i)
    if (candidates_[i] == encoding) return &estimates_[i];
  return nullptr;
}

const AutoCompression::Estimate* AutoCompression::find(PageEncoding encoding) const {
  return const_cast<AutoCompression*>(this)->find(encoding);
}

void AutoCompression::record_sample(PageEncoding encoding, uint64_t output_bytes,
                                    std::chrono::nanoseconds time) {
  Estimate* e = find(encoding);
  if (!e) return;
  ++e->pages;
  e->output_bytes += output_bytes;
  e->seconds += std::chrono::duration<double>(time).count();
}

std::optional<double> AutoCompression::cost(PageEncoding encoding) const {
  const Estimate* e = find(encoding);
  if (!e || !e->known) return std::nullopt;
  const double link = link_rate_ ? e->ratio / *link_rate_ : 0.0;
  return e->seconds_per_byte + link;
}

PageEncoding AutoCompression::decide(uint64_t wire_bytes, std::chrono::nanoseconds elapsed,
                                     std::chrono::nanoseconds blocked) {
  for (Estimate& e : estimates_) {
    if (e.pages == 0) continue;
    const double input = static_cast<double>(e.pages * kPageSize);
    const double spb = e.seconds / input;
    const double ratio = static_cast<double>(e.output_bytes) / input;
    if (e.known) {
      e.seconds_per_byte = kNewWeight * spb + (1 - kNewWeight) * e.seconds_per_byte;
      e.ratio = kNewWeight * ratio + (1 - kNewWeight) * e.ratio;
    } else {
      e.seconds_per_byte = spb;
      e.ratio = ratio;
      e.known = true;
    }
    e.pages = 0;
    e.output_bytes = 0;
    e.seconds = 0;
  }

  const double seconds = std::chrono::duration<double>(elapsed).count();
  bool link_bound = false;
  if (wire_bytes >= kMinRoundWireBytes && seconds > 0) {
    const double rate = static_cast<double>(wire_bytes) / seconds;
    link_bound = std::chrono::duration<double>(blocked).count() >= kLinkBoundFraction * seconds;
    if (link_bound)
      link_rate_ = rate;
    else if (link_rate_)
      link_rate_ = std::max(*link_rate_, rate);
  }

  PageEncoding best = current_;
  std::optional<double> best_cost = cost(current_);
  for (PageEncoding candidate : candidates_) {
    auto c = cost(candidate);
    if (!c) continue;
    if (!best_cost || *c < *best_cost) {
      best = candidate;
      best_cost = c;
    }
  }
  const auto current_cost = cost(current_);
  if (best != current_ && current_cost && *best_cost > kSwitchGain * *current_cost)
    best = current_;  // not enough of a gain to switch

  std::string costs;
  for (PageEncoding candidate : candidates_) {
    auto c = cost(candidate);
    costs += fmt::format("{}{} {}", costs.empty() ? "" : ", ", page_encoding_name(candidate),
                         c ? fmt::format("{:.2f} ns/B", *c * 1e9) : std::string("unmeasured"));
  }
  explanation_ = fmt::format(
      "{} (was {}): link {}, {}; cost per byte of memory: {}", page_encoding_name(best),
      page_encoding_name(current_), link_bound ? "bound" : "not bound",
      link_rate_ ? fmt::format("{:.0f} MB/s", *link_rate_ / 1e6) : std::string("rate unknown"),
      costs);
  current_ = best;
  return best;
}

}  // namespace ferry::wire

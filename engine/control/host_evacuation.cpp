#include "engine/control/host_evacuation.h"

#include <algorithm>
#include <chrono>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace ferry {
namespace {

constexpr auto kPollInterval = std::chrono::milliseconds(250);

// A move that failed before the guest was touched (the destination refused it or could not be
// reached) may be tried elsewhere; one that failed later leaves the guest here, running, and is
// reported instead of retried.
MoveOutcome classify(const nlohmann::json& result) {
  if (result.value("status", "") == "completed") return MoveOutcome::moved;
  const std::string phase = result.value("phase", "");
  const bool early =
      phase.find("negotiate") != std::string::npos || phase.find("prepare") != std::string::npos;
  return early && result.value("vm-location", "") == "source" ? MoveOutcome::refused
                                                              : MoveOutcome::failed;
}

nlohmann::json move_figures(const nlohmann::json& result, const std::string& destination) {
  nlohmann::json figures = {{"destination", destination},
                            {"migration", result.value("id", "")},
                            {"status", result.value("status", "")}};
  for (const char* key : {"downtime", "total-time", "transferred"})
    if (result.contains(key)) figures[key] = result[key];
  if (result.contains("error") && !result["error"].is_null()) figures["error"] = result["error"];
  return figures;
}

}  // namespace

Result<EvacuationRequest> EvacuationRequest::from_json(const nlohmann::json& body) {
  if (!body.is_object()) return Error(Errc::invalid_argument, "expected a JSON object");
  EvacuationRequest request;
  const auto to = body.find("to");
  if (to == body.end() || !to->is_array() || to->empty())
    return Error(Errc::invalid_argument,
                 "\"to\": the destinations' agents, e.g. [\"10.0.0.2:7460\", \"10.0.0.3:7460\"]");
  for (const auto& d : *to) {
    if (!d.is_string() || d.get<std::string>().find(':') == std::string::npos)
      return Error(Errc::invalid_argument,
                   fmt::format("\"to\": {} is not a HOST:PORT string", d.dump()));
    request.destinations.push_back(d.get<std::string>());
  }
  try {
    request.concurrency = body.value("concurrency", 2u);
    request.max_bandwidth = body.value("max-bandwidth", uint64_t{0});
    request.streams = body.value("streams", 2u);
  } catch (const nlohmann::json::exception&) {
    return Error(
        Errc::invalid_argument,
        "\"concurrency\", \"max-bandwidth\" and \"streams\" must be non-negative integers");
  }
  if (request.concurrency < 1 || request.concurrency > 64)
    return Error(Errc::invalid_argument, "concurrency must be 1..64");
  if (request.streams < 1 || request.streams > 64)
    return Error(Errc::invalid_argument, "streams must be 1..64");
  if (body.contains("settings")) {
    if (!body["settings"].is_object())
      return Error(Errc::invalid_argument, "\"settings\" must be an object");
    request.settings = body["settings"];
  }
  return request;
}

HostEvacuation::HostEvacuation(std::string id, std::string host, EvacuationRequest request,
                               Hooks hooks)
    : id_(std::move(id)),
      host_(std::move(host)),
      request_(std::move(request)),
      hooks_(std::move(hooks)) {}

void HostEvacuation::cancel() {
  std::lock_guard lock(mutex_);
  cancelled_ = true;
}

bool HostEvacuation::finished() const {
  std::lock_guard lock(mutex_);
  return finished_;
}

void HostEvacuation::share_bandwidth() {
  if (request_.max_bandwidth == 0 || running_.empty()) return;
  const uint64_t share = request_.max_bandwidth / running_.size();
  for (const auto& move : running_) hooks_.set_bandwidth(move.migration, share);
}

awaitable<void> HostEvacuation::run() {
  auto self = shared_from_this();
  // What each destination says it has room for, asked once: the plan then counts what it sends.
  std::vector<EvacuationTarget> targets;
  nlohmann::json reported = nlohmann::json::array();
  for (const auto& endpoint : request_.destinations) {
    // Built apart from the co_await: g++ 12 mishandles temporaries sharing its full-expression.
    const std::string asked = endpoint;
    auto query = hooks_.query_host(asked);
    auto answer = co_await std::move(query);
    EvacuationTarget target{endpoint, std::nullopt, ""};
    if (answer && (*answer).contains("memory-available")) {
      target.free_memory = (*answer)["memory-available"].get<uint64_t>();
      reported.push_back({{"endpoint", endpoint},
                          {"host", (*answer).value("host", "")},
                          {"memory-available", *target.free_memory}});
    } else {
      target.note = answer ? "no memory report" : answer.error().message();
      reported.push_back({{"endpoint", endpoint}, {"error", target.note}});
    }
    targets.push_back(std::move(target));
  }
  {
    std::lock_guard lock(mutex_);
    plan_.emplace(hooks_.vms(), std::move(targets), request_.concurrency);
    targets_ = std::move(reported);
  }
  spdlog::info("evacuation {}: {} VMs to {}", id_, hooks_.vms().size(),
               fmt::join(request_.destinations, ", "));

  const auto executor = co_await asio::this_coro::executor;
  asio::steady_timer timer(executor);
  for (;;) {
    {
      std::lock_guard lock(mutex_);
      if (cancelled_ && !cancel_sent_) {
        plan_->give_up_waiting("the evacuation was cancelled");
        for (const auto& move : running_) hooks_.cancel_migration(move.migration);
        cancel_sent_ = true;
      }
      // Start what may start now.
      bool started = false;
      while (auto placement = cancelled_ ? std::optional<Placement>() : plan_->next()) {
        const uint64_t share =
            request_.max_bandwidth ? request_.max_bandwidth / (running_.size() + 1) : 0;
        auto id = hooks_.start_migration(placement->vm, placement->endpoint, share);
        if (!id) {
          // The VM could not even start moving (it stopped meanwhile, a bad setting): it stays.
          plan_->finished(placement->vm, MoveOutcome::failed, id.error().message());
          continue;
        }
        running_.push_back({placement->vm, placement->endpoint, *id});
        started = true;
        spdlog::info("evacuation {}: {} -> {} (migration {})", id_, placement->vm,
                     placement->endpoint, *id);
      }
      if (started) share_bandwidth();
      // Collect what ended.
      bool ended = false;
      for (auto it = running_.begin(); it != running_.end();) {
        auto result = hooks_.migration_result(it->migration);
        if (!result) {
          ++it;
          continue;
        }
        const MoveOutcome outcome = classify(*result);
        // A cancelled move carries no error text: its status says it.
        const std::string reason = result->value("error", nlohmann::json()).is_string()
                                       ? (*result)["error"].get<std::string>()
                                       : result->value("status", "");
        results_[it->vm] = move_figures(*result, it->destination);
        plan_->finished(it->vm, outcome, reason);
        it = running_.erase(it);
        ended = true;
      }
      if (ended) share_bandwidth();
      if (plan_->done()) {
        finished_ = true;
        spdlog::info("evacuation {}: {}", id_,
                     plan_->host_empty() ? "host empty" : "finished with VMs left on this host");
        co_return;
      }
    }
    timer.expires_after(kPollInterval);
    boost::system::error_code ignored;
    co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
  }
}

nlohmann::json HostEvacuation::describe() const {
  std::lock_guard lock(mutex_);
  nlohmann::json vms = plan_ ? plan_->to_json() : nlohmann::json::array();
  nlohmann::json remaining = nlohmann::json::array();
  size_t moved = 0;
  for (auto& vm : vms) {
    const std::string name = vm["vm"];
    if (results_.contains(name)) vm["move"] = results_[name];
    for (const auto& move : running_)
      if (move.vm == name) vm["migration"] = move.migration;
    if (vm["state"] == "moved")
      ++moved;
    else
      remaining.push_back(name);
  }
  std::string state = "running";
  if (finished_) state = cancelled_ ? "cancelled" : remaining.empty() ? "completed" : "incomplete";
  return {{"id", id_},
          {"host", host_},
          {"state", state},
          {"destinations", targets_},
          {"concurrency", request_.concurrency},
          {"max-bandwidth", request_.max_bandwidth},
          {"vms", vms},
          {"moved", moved},
          {"remaining", remaining}};
}

}  // namespace ferry

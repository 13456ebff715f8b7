// Runs coroutines concurrently (each on its own executor, e.g. one strand per connection) and lets
// one coroutine wait for all of them. The first error is kept and reported to `on_first_error`,
// which typically closes the other connections so that everything unwinds quickly.
#pragma once

#include <exception>
#include <functional>
#include <memory>
#include <optional>

#include "engine/error/error.h"
#include "engine/transport/asio.h"

namespace ferry {

class TaskGroup {
 public:
  // `home` is the executor of the coroutine that calls wait(); it must be a strand (or single
  // thread).
  explicit TaskGroup(asio::any_io_executor home,
                     std::function<void(const Error&)> on_first_error = {})
      : state_(std::make_shared<State>(std::move(home), std::move(on_first_error))) {}

  template <typename Executor>
  void spawn(const Executor& executor, awaitable<Result<void>> task) {
    ++state_->pending;
    asio::co_spawn(executor, std::move(task),
                   [state = state_](std::exception_ptr exception, Result<void> result) {
                     asio::post(state->home,
                                [state, exception, result = std::move(result)]() mutable {
                                  if (exception && result.ok())
                                    result = Error(Errc::internal, describe(exception));
                                  if (!result.ok() && !state->first_error) {
                                    state->first_error = result.error();
                                    if (state->on_first_error)
                                      state->on_first_error(*state->first_error);
                                  }
                                  if (--state->pending == 0) state->done.cancel();
                                });
                   });
  }

  // Waits until every spawned task has finished; returns the first error, if any.
  awaitable<Result<void>> wait() {
    while (state_->pending > 0) {
      state_->done.expires_at(asio::steady_timer::time_point::max());
      boost::system::error_code ignored;
      co_await state_->done.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
    }
    if (state_->first_error) co_return *state_->first_error;
    co_return ok();
  }

 private:
  static std::string describe(std::exception_ptr exception) {
    try {
      std::rethrow_exception(exception);
    } catch (const std::exception& e) {
      return std::string("unexpected exception: ") + e.what();
    } catch (...) {
      return "unexpected exception";
    }
  }

  struct State {
    State(asio::any_io_executor h, std::function<void(const Error&)> f)
        : home(std::move(h)), done(home), on_first_error(std::move(f)) {}
    asio::any_io_executor home;
    asio::steady_timer done;
    std::function<void(const Error&)> on_first_error;
    int pending = 0;
    std::optional<Error> first_error;
  };
  std::shared_ptr<State> state_;
};

}  // namespace ferry

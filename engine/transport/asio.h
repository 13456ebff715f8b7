// The one place that includes Boost.Asio. Boost 1.74's awaitable.hpp uses std::exchange without
// including <utility>, which breaks with g++ 12: include it first.
#pragma once

#include <utility>

#include <boost/asio.hpp>

namespace ferry {
namespace asio = boost::asio;
using asio::awaitable;
using tcp = asio::ip::tcp;
}  // namespace ferry

# The CLI's client for the agent API; included by apps/ferry/CMakeLists.txt.
add_library(ferry_api_client STATIC ${CMAKE_CURRENT_LIST_DIR}/api_client.cpp)
target_include_directories(ferry_api_client PUBLIC ${PROJECT_SOURCE_DIR})
target_link_libraries(ferry_api_client
  PUBLIC ferry_error nlohmann_json::nlohmann_json
  PRIVATE ferry_http ferry_asio fmt::fmt ferry_warnings)

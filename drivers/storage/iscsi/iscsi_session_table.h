// The live iSCSI sessions of a driver, by the id a binding's state names them with. A binding is
// plain JSON, but a registration lives as long as the session (I_T nexus) that made it, so the
// session must outlive the step that opened it. A step takes its session out, uses it alone, and
// puts it back.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "drivers/storage/iscsi/iscsi_session.h"

namespace ferry::iscsi {

class IscsiSessionTable {
 public:
  // A fresh id, e.g. "disk0#3".
  std::string new_id(std::string_view resource);
  // The session stored under `id`, or null (never stored, taken by another step, or discarded).
  std::unique_ptr<IscsiSession> take(const std::string& id);
  // Keeps `session` under `id` if it is still usable; an unusable one is dropped.
  void put(const std::string& id, std::unique_ptr<IscsiSession> session);
  std::size_t size() const;

 private:
  mutable std::mutex mutex_;
  std::map<std::string, std::unique_ptr<IscsiSession>, std::less<>> sessions_;
  unsigned long long next_ = 1;
};

}  // namespace ferry::iscsi

#include "drivers/storage/iscsi/iscsi_session_table.h"

#include <fmt/format.h>

namespace ferry::iscsi {

std::string IscsiSessionTable::new_id(std::string_view resource) {
  std::lock_guard lock(mutex_);
  return fmt::format("{}#{}", resource, next_++);
}

std::unique_ptr<IscsiSession> IscsiSessionTable::take(const std::string& id) {
  std::lock_guard lock(mutex_);
  auto it = sessions_.find(id);
  if (it == sessions_.end()) return nullptr;
  auto session = std::move(it->second);
  sessions_.erase(it);
  return session;
}

void IscsiSessionTable::put(const std::string& id, std::unique_ptr<IscsiSession> session) {
  if (!session || !session->usable()) return;
  std::unique_ptr<IscsiSession> replaced;  // destroyed outside the lock
  std::lock_guard lock(mutex_);
  auto& slot = sessions_[id];
  replaced = std::move(slot);
  slot = std::move(session);
}

std::size_t IscsiSessionTable::size() const {
  std::lock_guard lock(mutex_);
  return sessions_.size();
}

}  // namespace ferry::iscsi

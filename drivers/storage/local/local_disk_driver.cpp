#include "drivers/storage/local/local_disk_driver.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>

#include <fmt/format.h>

#include "drivers/storage/local/local_disk_location.h"
#include "engine/posix/unique_fd.h"

namespace ferry::local {
namespace {

Result<uint64_t> image_size(const std::string& path) {
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0) {
    Error error = errno_error("disk image " + path);
    return errno == ENOENT ? Error(Errc::not_found, error.message()) : error;
  }
  if (!S_ISREG(info.st_mode))
    return Error(Errc::invalid_argument, fmt::format("disk image {} is not a regular file", path));
  return static_cast<uint64_t>(info.st_size);
}

// Creates the image exclusively with all its blocks, or leaves nothing behind.
Result<void> create_image(const std::string& path, uint64_t size) {
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
  if (ec)
    return Error(Errc::io, fmt::format("creating the directory of {}: {}", path, ec.message()));
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (!fd.valid()) {
    Error error = errno_error("creating disk image " + path);
    if (errno == EEXIST)
      return Error(Errc::rejected, fmt::format("disk image {} exists already on this host: a "
                                               "local disk is never overwritten",
                                               path));
    return error;
  }
  if (const int failed = ::posix_fallocate(fd.get(), 0, static_cast<off_t>(size)); failed != 0) {
    ::unlink(path.c_str());
    struct statvfs fs {};
    const uint64_t free_bytes =
        ::statvfs(std::filesystem::path(path).parent_path().c_str(), &fs) == 0
            ? static_cast<uint64_t>(fs.f_bavail) * fs.f_frsize
            : 0;
    return Error(failed == ENOSPC || failed == EFBIG ? Errc::no_space : Errc::io,
                 fmt::format("allocating {} bytes for disk image {} ({} bytes free there): {}",
                             size, path, free_bytes, std::strerror(failed)));
  }
  return ok();
}

}  // namespace

Result<nlohmann::json> LocalDiskDriver::inspect(const ResourceBinding& binding,
                                                const ResourceContext& context) {
  auto location = locate_local_disk(binding.spec, context);
  if (!location) return std::move(location).error();
  auto size = image_size(location->path);
  if (!size) return std::move(size).error();
  return nlohmann::json{{"size", *size}};
}

Result<ResourceBinding> LocalDiskDriver::prepare(const ResourceSpec& spec,
                                                 const nlohmann::json& source_facts,
                                                 const ResourceContext& context) {
  auto location = locate_local_disk(spec, context);
  if (!location) return std::move(location).error();
  ResourceBinding binding;
  binding.spec = spec;
  binding.state = {{"path", location->path}, {"created", false}};
  if (source_facts.is_null()) {
    // A guest starting here on its own disk.
    auto size = image_size(location->path);
    if (!size) return std::move(size).error();
    if (*size == 0 || *size % 512 != 0)
      return Error(Errc::invalid_argument,
                   fmt::format("disk image {} has {} bytes, not a whole number of sectors",
                               location->path, *size));
  } else {
    auto size = size_from_facts(source_facts, spec.id);
    if (!size) return std::move(size).error();
    if (auto created = create_image(location->path, *size); !created)
      return std::move(created).error().within("host " + context.host);
    binding.state["created"] = true;
  }
  binding.attach = {{"qemu-drive", local_qemu_drive(*location)}, {"copy", "mirror"}};
  return binding;
}

Result<void> LocalDiskDriver::activate(ResourceBinding&, const ResourceContext&) {
  return ok();
}

Result<void> LocalDiskDriver::deactivate(ResourceBinding&, const ResourceContext&) {
  return ok();
}

Result<void> LocalDiskDriver::release(ResourceBinding& binding, const ResourceContext& context) {
  if (!context.moved_away) return ok();
  const std::string path = binding.state.value("path", "");
  if (path.empty() || (::unlink(path.c_str()) != 0 && errno != ENOENT))
    return errno_error("removing the stale copy of disk image " + path);
  return ok();
}

Result<void> LocalDiskDriver::rollback(ResourceBinding& binding, const ResourceContext&) {
  if (!binding.state.value("created", false)) return ok();
  const std::string path = binding.state.value("path", "");
  if (::unlink(path.c_str()) != 0 && errno != ENOENT)
    return errno_error("removing disk image " + path + " created for the incoming guest");
  binding.state["created"] = false;
  return ok();
}

}  // namespace ferry::local

namespace ferry {

std::shared_ptr<ResourceDriver> make_local_disk_driver() {
  return std::make_shared<local::LocalDiskDriver>();
}

}  // namespace ferry

// `ferry pki init --dir D` and `ferry pki host --dir D --name HOST [--ip A]`: the pool CA and the
// host certificates agents present to each other. Keys are written 0600 and never overwritten.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "apps/ferry/commands.h"
#include "apps/ferry/exit_codes.h"
#include "engine/transport/pool_certificates.h"

namespace ferry::cli {

namespace {
namespace fs = std::filesystem;

// O_EXCL: an existing CA or key is never replaced by accident (every host would lose the pool).
Result<void> write_new_file(const fs::path& path, const std::string& text, mode_t mode) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) {
    if (errno == EEXIST)
      return Error(Errc::invalid_argument,
                   fmt::format("{} already exists: remove it first to replace it", path.string()));
    return errno_error(fmt::format("creating {}", path.string()));
  }
  size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      return errno_error(fmt::format("writing {}", path.string()), err);
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0)
    return errno_error(fmt::format("writing {}", path.string()));
  return ok();
}

Result<std::string> read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return errno_error(fmt::format("reading {}", path.string()));
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

Result<void> init_pool(const fs::path& dir, const std::string& name, int days) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Error(Errc::io, fmt::format("creating {}: {}", dir.string(), ec.message()));
  const fs::path cert_path = dir / "ca.pem";
  const fs::path key_path = dir / "ca-key.pem";
  if (fs::exists(cert_path) || fs::exists(key_path))
    return Error(Errc::invalid_argument,
                 fmt::format("{} already holds a pool CA (ca.pem / ca-key.pem): remove them first "
                             "to replace it",
                             dir.string()));
  auto ca = pki::create_pool_ca(name, days);
  if (!ca) return std::move(ca).error();
  if (auto written = write_new_file(key_path, ca->key_pem, 0600); !written) return written;
  if (auto written = write_new_file(cert_path, ca->certificate_pem, 0644); !written) return written;
  fmt::print(
      "pool CA \"{}\": {} (certificate, give it to every host), {} (key, mode 0600: keep "
      "it off the hosts if you can)\n",
      name, cert_path.string(), key_path.string());
  return ok();
}

Result<void> issue_host(const fs::path& dir, const std::string& host,
                        const std::vector<std::string>& ips, int days) {
  auto ca_cert = read_text(dir / "ca.pem");
  if (!ca_cert) return std::move(ca_cert).error().within("pool CA (run `ferry pki init` first)");
  auto ca_key = read_text(dir / "ca-key.pem");
  if (!ca_key) return std::move(ca_key).error().within("pool CA key");
  auto issued = pki::create_host_certificate({*ca_key, *ca_cert}, host, ips, days);
  if (!issued) return std::move(issued).error().within(fmt::format("host {}", host));
  const fs::path cert_path = dir / (host + ".pem");
  const fs::path key_path = dir / (host + "-key.pem");
  if (fs::exists(cert_path) || fs::exists(key_path))
    return Error(Errc::invalid_argument,
                 fmt::format("{} or {} already exists: remove them first to replace them",
                             cert_path.string(), key_path.string()));
  if (auto written = write_new_file(key_path, issued->key_pem, 0600); !written) return written;
  if (auto written = write_new_file(cert_path, issued->certificate_pem, 0644); !written)
    return written;
  fmt::print(
      "host {}: {} and {} (mode 0600)\nstart its agent with: --tls-ca {} --tls-cert {} "
      "--tls-key {}\n",
      host, cert_path.string(), key_path.string(), (dir / "ca.pem").string(), cert_path.string(),
      key_path.string());
  return ok();
}

void report(const Result<void>& result, int& exit_code) {
  if (result) {
    exit_code = kExitOk;
    return;
  }
  fmt::print(stderr, "ferry pki: {}\n", result.error().message());
  exit_code = result.error().code() == Errc::invalid_argument ? kExitUsage : kExitFailed;
}
}  // namespace

void add_pki_command(CLI::App& app, int& exit_code) {
  auto* pki = app.add_subcommand(
      "pki", "Create the pool CA and host certificates agents use to authenticate each other");
  pki->require_subcommand(1);

  struct Options {
    std::string dir;
    std::string name = "ferry pool CA";
    std::string host;
    std::vector<std::string> ips;
    int days = 3650;
    int host_days = 825;
  };
  auto o = std::make_shared<Options>();

  auto* init = pki->add_subcommand("init", "Create the pool CA: DIR/ca.pem and DIR/ca-key.pem");
  init->add_option("--dir", o->dir, "Directory for the pool's files")->required();
  init->add_option("--name", o->name, "The CA's common name")->capture_default_str();
  init->add_option("--days", o->days, "Validity in days")->capture_default_str();
  init->callback([o, &exit_code] { report(init_pool(o->dir, o->name, o->days), exit_code); });

  auto* host = pki->add_subcommand(
      "host",
      "Create a host's key and certificate signed by the pool CA: DIR/HOST.pem, "
      "DIR/HOST-key.pem");
  host->add_option("--dir", o->dir, "Directory holding the pool CA")->required();
  host->add_option("--name", o->host, "Host name (certificate CN and DNS name)")->required();
  host->add_option("--ip", o->ips, "An IP address of the host (repeatable)");
  host->add_option("--days", o->host_days, "Validity in days")->capture_default_str();
  host->callback(
      [o, &exit_code] { report(issue_host(o->dir, o->host, o->ips, o->host_days), exit_code); });
}

}  // namespace ferry::cli

#include "drivers/storage/iscsi/scsi_commands.h"

// clang-format off
#include <iscsi/iscsi.h>
#include <iscsi/scsi-lowlevel.h>
// clang-format on

#include <fmt/format.h>

#include <algorithm>
#include <cstring>

#include "drivers/storage/iscsi/reservation_key.h"

namespace ferry::iscsi {

namespace {

constexpr int kVpdDeviceIdentification = 0x83;
constexpr int kVpdUnitSerialNumber = 0x80;
constexpr std::uint16_t kReserveInLength = 8192;

Error command_error(const IscsiSession& session, std::string_view what, const ScsiStatus& status) {
  return Error(status.reservation_conflict() ? Errc::rejected : Errc::io,
               fmt::format("{}: {}: {}", session.address().describe(), what, status.describe()));
}

// INQUIRY of a VPD page, asking again with the page's full length when the first answer was cut.
Result<ScsiTask> inquiry_page(IscsiSession& session, int page, std::string_view what,
                              Deadline deadline) {
  int length = 255;
  for (int attempt = 0; attempt < 2; ++attempt) {
    auto task = session.execute(
        what,
        [page, length](iscsi_context* c, int lun, iscsi_command_cb callback, void* data) {
          return iscsi_inquiry_task(c, lun, 1, page, length, callback, data);
        },
        deadline);
    if (!task) return std::move(task).error();
    const ScsiStatus status = ScsiStatus::of(*task.value());
    if (!status.good()) return command_error(session, what, status);
    const scsi_data& data = task.value()->datain;
    if (data.size >= 4) {
      const int full = 4 + ((data.data[2] << 8) | data.data[3]);
      if (full > data.size && full > length && attempt == 0) {
        length = std::min(full, 0xffff);
        continue;
      }
    }
    return task;
  }
  return Error(Errc::protocol, fmt::format("{}: {}: the page kept growing between two reads",
                                           session.address().describe(), what));
}

template <typename Unmarshalled>
Result<Unmarshalled*> unmarshall(IscsiSession& session, scsi_task& task, std::string_view what) {
  auto* parsed = static_cast<Unmarshalled*>(scsi_datain_unmarshall(&task));
  if (parsed == nullptr)
    return Error(Errc::protocol, fmt::format("{}: {}: the target's answer could not be parsed",
                                             session.address().describe(), what));
  return parsed;
}

std::string trimmed(const char* text) {
  std::string value = text != nullptr ? text : "";
  const auto end = value.find_last_not_of(" \t");
  value.erase(end == std::string::npos ? 0 : end + 1);
  const auto begin = value.find_first_not_of(" \t");
  return begin == std::string::npos ? std::string() : value.substr(begin);
}

std::string_view action_name(ReserveAction action) {
  switch (action) {
    case ReserveAction::register_key:
      return "REGISTER";
    case ReserveAction::reserve:
      return "RESERVE";
    case ReserveAction::release:
      return "RELEASE";
    case ReserveAction::preempt:
      return "PREEMPT";
    case ReserveAction::register_ignoring_existing:
      return "REGISTER AND IGNORE EXISTING KEY";
  }
  return "?";
}

}  // namespace

Result<LunIdentity> read_lun_identity(IscsiSession& session, Deadline deadline) {
  LunIdentity identity;

  const std::string vpd83 = "INQUIRY VPD 0x83 (device identification)";
  auto designators = inquiry_page(session, kVpdDeviceIdentification, vpd83, deadline);
  if (!designators) return std::move(designators).error();
  auto page = unmarshall<scsi_inquiry_device_identification>(session, *designators.value(), vpd83);
  if (!page) return std::move(page).error();
  for (auto* d = page.value()->designators; d != nullptr; d = d->next) {
    if (d->association != SCSI_ASSOCIATION_LOGICAL_UNIT || d->designator_length <= 0) continue;
    identity.designators.push_back(
        LunDesignator{static_cast<int>(d->designator_type), static_cast<int>(d->code_set),
                      to_hex(reinterpret_cast<const unsigned char*>(d->designator),
                             static_cast<std::size_t>(d->designator_length))});
  }
  std::sort(identity.designators.begin(), identity.designators.end());

  // VPD 0x80 is optional in SPC: a target without it identifies the LUN by VPD 0x83 alone.
  const std::string vpd80 = "INQUIRY VPD 0x80 (unit serial number)";
  auto serial = session.execute(
      vpd80,
      [](iscsi_context* c, int lun, iscsi_command_cb callback, void* data) {
        return iscsi_inquiry_task(c, lun, 1, kVpdUnitSerialNumber, 255, callback, data);
      },
      deadline);
  if (!serial) return std::move(serial).error();
  const ScsiStatus serial_status = ScsiStatus::of(*serial.value());
  if (serial_status.good()) {
    auto usn = unmarshall<scsi_inquiry_unit_serial_number>(session, *serial.value(), vpd80);
    if (!usn) return std::move(usn).error();
    identity.serial = trimmed(usn.value()->usn);
  } else if (serial_status.sense_key != SCSI_SENSE_ILLEGAL_REQUEST) {
    return command_error(session, vpd80, serial_status);
  }

  const std::string capacity = "READ CAPACITY(16)";
  auto capacity_task = session.execute(
      capacity,
      [](iscsi_context* c, int lun, iscsi_command_cb callback, void* data) {
        return iscsi_readcapacity16_task(c, lun, callback, data);
      },
      deadline);
  if (!capacity_task) return std::move(capacity_task).error();
  const ScsiStatus capacity_status = ScsiStatus::of(*capacity_task.value());
  if (!capacity_status.good()) return command_error(session, capacity, capacity_status);
  auto rc16 = unmarshall<scsi_readcapacity16>(session, *capacity_task.value(), capacity);
  if (!rc16) return std::move(rc16).error();
  identity.block_size = rc16.value()->block_length;
  identity.blocks = rc16.value()->returned_lba + 1;
  return identity;
}

Result<ReservationState> read_reservation_state(IscsiSession& session, Deadline deadline) {
  ReservationState state;
  const std::string keys_what = "PERSISTENT RESERVE IN (READ KEYS)";
  auto keys_task = session.execute(
      keys_what,
      [](iscsi_context* c, int lun, iscsi_command_cb callback, void* data) {
        return iscsi_persistent_reserve_in_task(c, lun, SCSI_PERSISTENT_RESERVE_READ_KEYS,
                                                kReserveInLength, callback, data);
      },
      deadline);
  if (!keys_task) return std::move(keys_task).error();
  const ScsiStatus keys_status = ScsiStatus::of(*keys_task.value());
  if (!keys_status.good()) return command_error(session, keys_what, keys_status);
  auto keys =
      unmarshall<scsi_persistent_reserve_in_read_keys>(session, *keys_task.value(), keys_what);
  if (!keys) return std::move(keys).error();
  for (int i = 0; i < keys.value()->num_keys; ++i) state.keys.push_back(keys.value()->keys[i]);

  const std::string reservation_what = "PERSISTENT RESERVE IN (READ RESERVATION)";
  auto reservation_task = session.execute(
      reservation_what,
      [](iscsi_context* c, int lun, iscsi_command_cb callback, void* data) {
        return iscsi_persistent_reserve_in_task(c, lun, SCSI_PERSISTENT_RESERVE_READ_RESERVATION,
                                                kReserveInLength, callback, data);
      },
      deadline);
  if (!reservation_task) return std::move(reservation_task).error();
  const ScsiStatus reservation_status = ScsiStatus::of(*reservation_task.value());
  if (!reservation_status.good())
    return command_error(session, reservation_what, reservation_status);
  auto reservation = unmarshall<scsi_persistent_reserve_in_read_reservation>(
      session, *reservation_task.value(), reservation_what);
  if (!reservation) return std::move(reservation).error();
  if (reservation.value()->reserved)
    state.holder = ReservationHolder{reservation.value()->reservation_key,
                                     static_cast<int>(reservation.value()->pr_type)};
  return state;
}

Result<void> persistent_reserve_out(IscsiSession& session, ReserveAction action, int type,
                                    std::uint64_t key, std::uint64_t service_key,
                                    Deadline deadline) {
  const std::string what = fmt::format(
      "PERSISTENT RESERVE OUT ({}, key {}, service action key {}{})", action_name(action),
      format_reservation_key(key), format_reservation_key(service_key),
      type != 0 ? ", " + reservation_type_name(type) : std::string());
  auto task = session.execute(
      what,
      [action, type, key, service_key](iscsi_context* c, int lun, iscsi_command_cb callback,
                                       void* data) {
        scsi_persistent_reserve_out_basic parameters;
        std::memset(&parameters, 0, sizeof parameters);
        parameters.reservation_key = key;
        parameters.service_action_reservation_key = service_key;
        // libiscsi copies the parameter list into the task before returning.
        return iscsi_persistent_reserve_out_task(c, lun, static_cast<int>(action),
                                                 SCSI_PERSISTENT_RESERVE_SCOPE_LU, type,
                                                 &parameters, callback, data);
      },
      deadline);
  if (!task) return std::move(task).error();
  const ScsiStatus status = ScsiStatus::of(*task.value());
  if (!status.good()) return command_error(session, what, status);
  return ok();
}

Result<ScsiStatus> write_blocks(IscsiSession& session, std::uint64_t lba,
                                const std::vector<std::uint8_t>& data, std::uint32_t block_size,
                                Deadline deadline) {
  if (block_size == 0 || data.empty() || data.size() % block_size != 0)
    return Error(Errc::invalid_argument,
                 fmt::format("{}: WRITE(16) at block {}: {} bytes is not a whole number of "
                             "{}-byte blocks",
                             session.address().describe(), lba, data.size(), block_size));
  // libiscsi sends from the buffer while the command runs, so it gets a copy it may not free.
  std::vector<std::uint8_t> buffer = data;
  auto task = session.execute(
      fmt::format("WRITE(16) at block {}", lba),
      [&buffer, lba, block_size](iscsi_context* c, int lun, iscsi_command_cb callback,
                                 void* private_data) {
        return iscsi_write16_task(
            c, lun, lba, buffer.data(), static_cast<std::uint32_t>(buffer.size()),
            static_cast<int>(block_size), 0, 0, 0, 0, 0, callback, private_data);
      },
      deadline);
  if (!task) return std::move(task).error();
  return ScsiStatus::of(*task.value());
}

Result<ReadBlocks> read_blocks(IscsiSession& session, std::uint64_t lba, std::uint32_t length,
                               std::uint32_t block_size, Deadline deadline) {
  if (block_size == 0 || length == 0 || length % block_size != 0)
    return Error(Errc::invalid_argument,
                 fmt::format("{}: READ(16) at block {}: {} bytes is not a whole number of "
                             "{}-byte blocks",
                             session.address().describe(), lba, length, block_size));
  auto task = session.execute(
      fmt::format("READ(16) at block {}", lba),
      [lba, length, block_size](iscsi_context* c, int lun, iscsi_command_cb callback,
                                void* private_data) {
        return iscsi_read16_task(c, lun, lba, length, static_cast<int>(block_size), 0, 0, 0, 0, 0,
                                 callback, private_data);
      },
      deadline);
  if (!task) return std::move(task).error();
  ReadBlocks result;
  result.status = ScsiStatus::of(*task.value());
  const scsi_data& data = task.value()->datain;
  if (result.status.good() && data.size > 0) result.data.assign(data.data, data.data + data.size);
  return result;
}

}  // namespace ferry::iscsi

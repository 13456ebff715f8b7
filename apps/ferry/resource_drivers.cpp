#include "apps/ferry/resource_drivers.h"

#include "drivers/net/ovs/ovs_port_driver.h"
#include "drivers/storage/iscsi/iscsi_disk_driver.h"
#include "drivers/storage/local/local_disk_driver.h"
#include "drivers/storage/nfs/nfs_disk_driver.h"

namespace ferry::cli {

std::shared_ptr<const ResourceRegistry> linked_resource_drivers() {
  auto registry = std::make_shared<ResourceRegistry>();
  // Names are unique by construction here; a clash is a programming error caught by the tests.
  (void)registry->add(make_iscsi_disk_driver());
  (void)registry->add(make_nfs_disk_driver());
  (void)registry->add(make_local_disk_driver());
  (void)registry->add(ovs::make_ovs_port_driver());
  return registry;
}

}  // namespace ferry::cli

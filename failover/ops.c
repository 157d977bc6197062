#include "config.h"

#include "failover/addr.h"
#include "failover/ops.h"
#include "failover/service.h"

const struct site_ops site_ops_real = { &addr_real, &service_real };
const struct site_ops site_ops_null = { &addr_null, &service_null };
const struct site_ops site_ops_fake = { &addr_fake, &service_fake };

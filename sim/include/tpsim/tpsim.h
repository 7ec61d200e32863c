/* tp-sim public API: include this one header. */
#ifndef TPSIM_TPSIM_H
#define TPSIM_TPSIM_H

#define TPSIM_VERSION "0.1.0"

#include "tpsim/status.h"
#include "tpsim/model.h"
#include "tpsim/ops.h"
#include "tpsim/engine.h"
#include "tpsim/io.h"
#include "tpsim/search.h"
#include "tpsim/capacity.h"
#include "tpsim/ecosystem.h"
#include "tpsim/uncertainty.h"

#endif

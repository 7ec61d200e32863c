/* The MindSpeed-MM model JSON reader (mm_model.c): the file a MindSpeed-MM
 * recipe names with `--mm-model` (examples/qwen2.5vl/model_7b.json), read
 * into a tps_model. Not part of the public API; tps_model_load and
 * tps_mindspeed_mm_load (tpsim/ecosystem.h) reach it. */
#ifndef TPSIM_IO_MM_MODEL_H
#define TPSIM_IO_MM_MODEL_H

#include <stdbool.h>

#include "io/yaml_doc.h"
#include "tpsim/model.h"

/* True when the JSON object root has MindSpeed-MM's layout: a
 * 'text_decoder' or 'image_encoder' section and no Hugging Face
 * 'architectures' list. */
bool io_mm_layout(io_doc *d, const yaml_node_t *root);

/* Reads the object root of d (loaded from path) into model (zeroed by the
 * caller). Errors name the file, line, column and key. */
tps_status io_mm_model_read(io_doc *d, const yaml_node_t *root, const char *path,
                            tps_model *model);

#endif

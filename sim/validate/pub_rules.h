/* The text rules of `tp-sim validate --published`: how the free text of a
 * published case (architecture, device, precision, recompute, sources) turns
 * into engine inputs. Pure functions, no I/O. docs/validation.md states the
 * same rules in prose; keep the two together. */
#ifndef TPSIM_VALIDATE_PUB_RULES_H
#define TPSIM_VALIDATE_PUB_RULES_H

#include <stdbool.h>
#include <stddef.h>

#include "tpsim/model.h"

/* true when `needle` occurs in `text`, ignoring ASCII case. NULL text: false. */
bool pub_text_has(const char *text, const char *needle);

/* Fills the architecture fields of a decoder module (mlp, norm, position,
 * max_position, tied_embeddings, bias, qkv_bias, dropout) from the `arch`
 * text of a case; seq_len becomes max_position for learned positions:
 *   "RMSNorm" -> rmsnorm, else layernorm;
 *   "SwiGLU" -> swiglu, else gelu;
 *   "learned pos" -> learned (max_position = seq_len); else "rope" -> rope;
 *     else none;
 *   "untied" / "not tied" -> untied; else "tied" -> tied; else untied;
 *   "GPT" -> biases on every linear layer and dropout (Megatron GPT);
 *     else no biases (but "QKV bias" -> qkv_bias) and no dropout.
 * Returns false, with why filled, when the text names something the engine
 * does not model (a mixture of experts). */
bool pub_arch_apply(const char *arch, int64_t seq_len, tps_module *m, char *why,
                    size_t why_size);

/* Bundled hardware profile for a device text, or NULL when no rule matches.
 * First matching row wins (case-insensitive):
 *   910B2 -> 910b2; 910B3 -> 910b3; H200 -> h200;
 *   H100 (not PCIe, not NVL) -> h100-sxm;
 *   A100 with 80GB / 80 GB -> a100-80g-sxm; A100 otherwise -> a100-40g-sxm. */
const char *pub_device_profile(const char *device);

/* Precision from the `precision` text: names bf16 only -> bf16, fp16 only ->
 * fp16, fp32 only -> fp32 (*explicit_out = true). Both or none named: fp16
 * when year is known and < 2021 (Megatron had no bf16 before 2021), else
 * bf16 (*explicit_out = false). text may be NULL. */
tps_precision pub_precision(const char *text, int year, bool *explicit_out);

/* Recompute from free text: its first word, case-insensitive. none / no /
 * false / off -> none; selective -> selective; full -> full. Returns false
 * for anything else (the case is skipped). */
bool pub_recompute(const char *text, tps_recompute *out);

/* Flash attention stated by a text: 1 on ("flash"), 0 off ("no flash",
 * "without flash", "flash off", "non-flash", "unfused"), -1 not stated. */
int pub_flash_stated(const char *text);

/* The earliest year a source text names: a run of exactly 4 digits in
 * 2010..2035 ("2020-09-11", "Sep-2020"; "batch 2048" is no year) or an arXiv
 * id ("arXiv:1909.08053" -> 2019). Returns 0 when the text names none. */
int pub_year_in(const char *text);

#endif

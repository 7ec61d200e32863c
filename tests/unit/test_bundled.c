/* The bundled data through the real loader and engine: parameter counts
 * against their published figures, the recipe's static memory, and the
 * contract keys of `estimate --format json`. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reports/report.h"
#include "tpsim/tpsim.h"

static void load(const char *model_name, const char *hw_name, tps_model *m, tps_hw *hw) {
  char path[4096];
  tps_error err;
  cr_assert_eq(tps_data_find("models", model_name, path, sizeof path, &err), TPS_OK, "%s", err.msg);
  cr_assert_eq(tps_model_load(path, m, &err), TPS_OK, "%s: %s", path, err.msg);
  if (!hw) return;
  cr_assert_eq(tps_data_find("hw_profiles", hw_name, path, sizeof path, &err), TPS_OK, "%s", err.msg);
  cr_assert_eq(tps_hw_load(path, hw, &err), TPS_OK, "%s: %s", path, err.msg);
}

static const tps_module *module_named(const tps_model *m, const char *name) {
  for (int i = 0; i < m->n_modules; i++)
    if (strcmp(m->modules[i].name, name) == 0) return &m->modules[i];
  cr_assert_fail("no module %s", name);
  return NULL;
}

/* facts.md section 2 (HF config.json of Qwen/Qwen2.5-VL-7B-Instruct): the
 * published total 8,292,166,656; LLM 7,615,616,512; vision 676,550,144
 * (ViT 630,470,400 + patch embedding 1,505,280 + merger 44,574,464). */
Test(bundled, qwen25vl_7b_parameter_counts) {
  static tps_model m;
  load("qwen25vl-7b", NULL, &m, NULL);
  cr_assert_eq(tps_model_params(&m), 8292166656.0, "total %.0f", tps_model_params(&m));
  cr_assert_eq(tps_module_params(module_named(&m, "language_model")), 7615616512.0);
  double vision = tps_module_params(module_named(&m, "vision_encoder")) +
                  tps_module_params(module_named(&m, "projector"));
  cr_assert_eq(vision, 676550144.0, "vision %.0f", vision);
  cr_assert_eq(tps_module_params(module_named(&m, "projector")), 44574464.0);
}

/* facts.md section 1: with the recipe (PP 2, placement [12, 16], DP 4,
 * distributed optimizer) the heavier stage holds 38.47 GB static at TP 1
 * and 25.64 GB at TP 2: trainable x (2 + 4 + 12/DP). Stage 1 trains 16
 * layers x 233,057,792 + lm_head 544,997,376 + final norm 3,584. Under TP
 * the RMSNorm weights (2 x 3,584 per layer, 3,584 final) stay whole on every
 * rank, as in Megatron; everything else is split. */
Test(bundled, qwen25vl_7b_recipe_static_memory) {
  static tps_model m;
  static tps_hw hw;
  load("qwen25vl-7b", "910b2", &m, &hw);
  const double norms = 16.0 * 2.0 * 3584.0 + 3584.0;
  const double split = 16.0 * 233057792.0 + 544997376.0 + 3584.0 - norms;
  for (int64_t tp = 1; tp <= 2; tp++) {
    tps_run_overrides o;
    tps_run_overrides_init(&o);
    o.tp = tp;
    tps_run run;
    tps_error err;
    cr_assert_eq(tps_run_resolve(&m, &o, &run, &err), TPS_OK, "%s", err.msg);
    static tps_estimate e;
    cr_assert_eq(tps_estimate_run(&m, &run, &hw, &e, &err), TPS_OK, "%s", err.msg);
    const tps_memory *s1 = &e.stages[1].memory;
    double expected = (split / (double)tp + norms) * (6.0 + 12.0 / (double)run.dp);
    double got = s1->weights + s1->grads + s1->optimizer;
    cr_assert(fabs(got - expected) / expected < 1e-12, "TP %lld: %.0f vs %.0f", (long long)tp, got,
              expected);
  }
}

/* hw_profiles/h800.yaml: the H100 SXM's compute and memory with NVLink cut to
 * 400 GB/s bidirectional, 200 GB/s per direction (NVIDIA H800 data sheet), and
 * one 400 Gb/s InfiniBand NIC per GPU (DeepSeek-V3 report Sec. 3.2.2, "IB
 * (50 GB/s)"); with no row of its own in validation/model-error.yaml it takes
 * the megatron-cuda pool (time 15.1%, memory 4.0%). */
Test(bundled, h800_is_h100_with_slower_nvlink) {
  static tps_hw h800, h100;
  char path[4096];
  tps_error err;
  cr_assert_eq(tps_data_find("hw_profiles", "h800", path, sizeof path, &err), TPS_OK, "%s", err.msg);
  cr_assert_eq(tps_hw_load(path, &h800, &err), TPS_OK, "%s", err.msg);
  cr_assert_eq(tps_data_find("hw_profiles", "h100-sxm", path, sizeof path, &err), TPS_OK);
  cr_assert_eq(tps_hw_load(path, &h100, &err), TPS_OK, "%s", err.msg);
  cr_expect_eq(h800.intra.bandwidth_Bps, 200e9);
  cr_expect_eq(h800.inter.bandwidth_Bps, 50e9);
  cr_expect_eq(h800.devices_per_node, 8);
  cr_expect_eq(h800.peak_flops[TPS_PRECISION_BF16], 989e12);
  cr_expect_eq(h800.peak_fp8_flops, 1979e12);
  cr_expect_eq(h800.memory_bytes, h100.memory_bytes);
  cr_expect_eq(h800.memory_bandwidth_Bps, h100.memory_bandwidth_Bps);
  cr_expect_str_eq(h800.stack.name, "megatron-cuda");
  static tps_model_errors me;
  cr_assert_eq(tps_data_find("validation", "model-error", path, sizeof path, &err), TPS_OK);
  cr_assert_eq(tps_model_errors_load(path, &me, &err), TPS_OK, "%s", err.msg);
  const tps_model_error *e = tps_model_error_find(&me, &h800);
  cr_assert_not_null(e);
  cr_expect_str_eq(e->stack, "megatron-cuda");
  cr_expect_float_eq(e->time_sd, 0.151, 1e-12);
  cr_expect_float_eq(e->memory_sd, 0.040, 1e-12);
}

/* Every bundled model and profile loads, and the model runs on its default
 * hardware at its default configuration or names why not. */
Test(bundled, every_file_loads) {
  char names[64][TPS_NAME_MAX];
  int n = tps_data_list("models", names, 64);
  cr_assert(n >= 4, "only %d bundled models", n);
  for (int i = 0; i < n; i++) {
    static tps_model m;
    load(names[i], NULL, &m, NULL);
    cr_assert(tps_model_params(&m) > 0, "%s", names[i]);
  }
  n = tps_data_list("hw_profiles", names, 64);
  cr_assert(n >= 5, "only %d bundled profiles", n);
  for (int i = 0; i < n; i++) {
    char path[4096];
    static tps_hw hw;
    tps_error err;
    cr_assert_eq(tps_data_find("hw_profiles", names[i], path, sizeof path, &err), TPS_OK);
    cr_assert_eq(tps_hw_load(path, &hw, &err), TPS_OK, "%s: %s", names[i], err.msg);
    cr_assert(hw.source[0] != '\0', "%s has no source", names[i]);
  }
}

/* shared/design/tp-sim.md section 4: the keys of `estimate --format json`
 * (CONTRACT: keys may be added, never renamed). */
Test(bundled, estimate_json_contract_keys) {
  static tps_model m;
  static tps_hw hw;
  load("qwen25vl-7b", "910b2", &m, &hw);
  static tps_estimate est[2];
  for (int i = 0; i < 2; i++) {
    tps_run_overrides o;
    tps_run_overrides_init(&o);
    o.tp = i + 1;
    tps_run run;
    tps_error err;
    cr_assert_eq(tps_run_resolve(&m, &o, &run, &err), TPS_OK, "%s", err.msg);
    cr_assert_eq(tps_estimate_run(&m, &run, &hw, &est[i], &err), TPS_OK, "%s", err.msg);
  }
  estimate_report r = {.model = &m, .hw = &hw, .est = est, .n = 2};
  report_recommend(&r);
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  cr_assert_not_null(f);
  report_estimate_json(f, &r);
  fclose(f);
  const char *keys[] = {"tool", "version", "model", "hw", "assumptions", "results", "tp", "pp",
                        "dp", "cards", "sp", "recompute", "micro_batch", "global_batch", "seq_len",
                        "fits", "memory_bytes", "weights", "grads", "optimizer", "activations",
                        "runtime_reserve", "total", "step_time_s", "time_s", "compute", "tp_comm",
                        "pp_bubble", "dp_comm", "tokens_per_s", "tokens_per_s_per_card", "mfu",
                        "stages", "stage", "layers", "recommended_tp", "reason"};
  for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
    char quoted[64];
    snprintf(quoted, sizeof quoted, "\"%s\": ", keys[i]);
    cr_assert(strstr(buf, quoted), "key %s missing from:\n%s", keys[i], buf);
  }
  cr_assert(strstr(buf, "\"tool\": \"tp-sim\""));
  cr_assert(strstr(buf, "\"layers\": \"vision_encoder[0..31], projector, language_model[0..11]\""),
            "stage 0 label");
  cr_assert(strstr(buf, "\"recommended_tp\": 1"));
  /* Balanced braces and brackets, and the document ends with a newline. */
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < len; i++) {
    char c = buf[i];
    if (c == '"' && (i == 0 || buf[i - 1] != '\\')) in_string = !in_string;
    if (in_string) continue;
    if (c == '{' || c == '[') depth++;
    if (c == '}' || c == ']') depth--;
    cr_assert(depth >= 0);
  }
  cr_assert_eq(depth, 0);
  cr_assert_eq(buf[len - 1], '\n');
  free(buf);
}

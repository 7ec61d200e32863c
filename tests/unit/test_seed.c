/* The seed case: Qwen2.5-VL-7B on 8 x Ascend 910B2, TP=1 and TP=2.
 *
 * Source: Ascend/MindSpeed-MM UserGuide/features/tensor-parallel.rst (facts.md
 * section 1; shared/validation/published-dev.yaml cases msmm_qwen25vl_7b_tp1/2):
 * 50.26 GB and 34.20 GB per card, 11,042 and 6,088 tokens/s (-44.86%), default
 * TP 1. Readings argued in docs/validation.md: memory in 10^9 bytes, tokens/s
 * for the whole 8-card job.
 *
 * OUT OF SAMPLE: no constant is fitted to this case. The software stack
 * (hw_profiles/stacks/mindspeed-npu.yaml) is fitted by `tp-sim fit` on
 * MindSpeed-LLM's and MindSpeed-MM's other published runs, its allocator
 * overhead transferred from the CUDA fit (scripts/fit-stacks.sh); the model's
 * mean sample length (689 tokens) is MindSpeed-MM's README figure. The bands
 * below pin today's out-of-sample error (docs/validation.md, "The seed, out of
 * sample"): memory -4.7% / -3.4% (the accuracy issue's target, 5%), job
 * tokens/s +21% / +13% (target 15%; TP=1 misses it). */
#include <criterion/criterion.h>
#include <math.h>

#include "reports/report.h"
#include "tpsim/tpsim.h"

static tps_estimate est[2];

static void estimate_seed(void) {
  static tps_model m;
  static tps_hw hw;
  char path[4096];
  tps_error err;
  cr_assert_eq(tps_data_find("models", "qwen25vl-7b", path, sizeof path, &err), TPS_OK, "%s", err.msg);
  cr_assert_eq(tps_model_load(path, &m, &err), TPS_OK, "%s", err.msg);
  cr_assert_eq(tps_data_find("hw_profiles", "910b2", path, sizeof path, &err), TPS_OK, "%s", err.msg);
  cr_assert_eq(tps_hw_load(path, &hw, &err), TPS_OK, "%s", err.msg);
  for (int i = 0; i < 2; i++) {
    tps_run_overrides o;
    tps_run_overrides_init(&o);
    o.tp = i + 1;
    o.memory_margin = 0.05;
    tps_run run;
    cr_assert_eq(tps_run_resolve(&m, &o, &run, &err), TPS_OK, "%s", err.msg);
    cr_assert_eq(tps_estimate_run(&m, &run, &hw, &est[i], &err), TPS_OK, "%s", err.msg);
  }
}

Test(seed, memory_per_card_within_5_percent_out_of_sample, .init = estimate_seed) {
  const double published_gb[2] = {50.26, 34.20};
  for (int i = 0; i < 2; i++) {
    double got = est[i].memory.total / 1e9;
    double err = fabs(got / published_gb[i] - 1.0);
    cr_assert(err <= 0.05, "TP=%d: %.2f GB vs %.2f GB (%.1f%%)", i + 1, got, published_gb[i],
              err * 100.0);
  }
}

Test(seed, throughput_ratio_within_0_05_out_of_sample, .init = estimate_seed) {
  double ratio = est[1].tokens_per_s_per_card / est[0].tokens_per_s_per_card;
  cr_assert(fabs(ratio - 6088.0 / 11042.0) <= 0.05, "TP2/TP1 = %.3f vs 0.551", ratio);
}

Test(seed, job_tokens_per_s_within_25_percent_out_of_sample, .init = estimate_seed) {
  const double published[2] = {11042.0, 6088.0};
  for (int i = 0; i < 2; i++) {
    double err = fabs(est[i].tokens_per_s / published[i] - 1.0);
    cr_assert(err <= 0.25, "TP=%d: %.0f vs %.0f tokens/s (%.1f%%)", i + 1, est[i].tokens_per_s,
              published[i], err * 100.0);
  }
}

/* The mechanism the stack adds: at micro-batch 1 the host issuing the ops
 * bounds the step, so TP 2 (twice the micro-batches per rank, half the
 * work each) loses most of the time to host issue, not to collectives. */
Test(seed, tp2_loses_mostly_to_host_issue, .init = estimate_seed) {
  cr_assert(est[1].time.overhead > est[1].time.tp_comm, "host %.2f s vs TP comm %.2f s",
            est[1].time.overhead, est[1].time.tp_comm);
  cr_assert(est[0].time.overhead > 0.3 * est[0].step_time_s, "host %.2f of %.2f s",
            est[0].time.overhead, est[0].step_time_s);
}

Test(seed, recommends_tp1, .init = estimate_seed) {
  cr_assert_eq(tps_recommend_tp(est, 2), 0);
  cr_assert(est[0].fits_with_margin);
}

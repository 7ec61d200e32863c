/* MindSpeed's --noop-layers (docs/zh/features/noop-layers.md in
 * Ascend/MindSpeed): the listed layers (0-based) are identities that only
 * take a place in the pipeline split, so that a stage can hold fewer real
 * layers (DeepSeek-V3's 61 layers as 64 with 61,62,63 no-op: the last stage,
 * which also holds the output layer and the MTP module, gets 5). Here: the
 * real layers per stage of that split, for the engine's explicit placement. */
#include <stdio.h>

#include "io/megatron_flags.h"

bool mgf_noop_place(int64_t layers, int64_t pp, const int64_t *stage_layers, int n_stages,
                    const int64_t *noop, int n_noop, int64_t *real, int64_t *real_layers,
                    char *why, size_t why_size) {
  for (int i = 0; i < n_noop; i++) {
    if (noop[i] >= layers) {
      snprintf(why, why_size, "layer %lld is not below --num-layers %lld", (long long)noop[i],
               (long long)layers);
      return false;
    }
    for (int j = 0; j < i; j++)
      if (noop[j] == noop[i]) {
        snprintf(why, why_size, "layer %lld is listed twice", (long long)noop[i]);
        return false;
      }
  }
  if (n_noop >= layers) {
    snprintf(why, why_size, "every layer is a no-op");
    return false;
  }
  *real_layers = layers - n_noop;
  if (pp <= 1) return true;
  /* the stages' first layers: --num-layer-list, else an even split (which
   * MindSpeed then requires) */
  int64_t first[TPS_MAX_STAGES + 1];
  if (n_stages > 0) {
    if (n_stages != pp) {
      snprintf(why, why_size, "--num-layer-list gives %d stages, the pipeline has %lld",
               n_stages, (long long)pp);
      return false;
    }
    first[0] = 0;
    for (int s = 0; s < n_stages; s++) first[s + 1] = first[s] + stage_layers[s];
    if (first[n_stages] != layers) {
      snprintf(why, why_size, "--num-layer-list places %lld layers, --num-layers is %lld",
               (long long)first[n_stages], (long long)layers);
      return false;
    }
  } else {
    if (pp > TPS_MAX_STAGES || layers % pp != 0) {
      snprintf(why, why_size, "the pipeline (%lld stages) does not divide %lld layers evenly",
               (long long)pp, (long long)layers);
      return false;
    }
    for (int64_t s = 0; s <= pp; s++) first[s] = s * (layers / pp);
  }
  for (int64_t s = 0; s < pp; s++) {
    real[s] = first[s + 1] - first[s];
    for (int i = 0; i < n_noop; i++)
      if (noop[i] >= first[s] && noop[i] < first[s + 1]) real[s]--;
  }
  return true;
}

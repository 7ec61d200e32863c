/* Text rules for published cases (see pub_rules.h and docs/validation.md). */
#include "validate/pub_rules.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

static int lower(int c) { return tolower((unsigned char)c); }

/* true when text starts with prefix, ignoring ASCII case. */
static bool starts_with_ci(const char *text, const char *prefix) {
  for (; *prefix; text++, prefix++)
    if (!*text || lower(*text) != lower(*prefix)) return false;
  return true;
}

bool pub_text_has(const char *text, const char *needle) {
  if (!text || !needle) return false;
  size_t n = strlen(needle);
  if (n == 0) return true;
  for (const char *p = text; *p; p++) {
    size_t i = 0;
    while (i < n && p[i] && lower(p[i]) == lower(needle[i])) i++;
    if (i == n) return true;
  }
  return false;
}

bool pub_arch_apply(const char *arch, int64_t seq_len, tps_module *m, char *why,
                    size_t why_size) {
  if (pub_text_has(arch, "mixture of experts") || pub_text_has(arch, "mixture-of-experts") ||
      pub_text_has(arch, "moe")) {
    snprintf(why, why_size, "mixture-of-experts models are not modelled (model.arch)");
    return false;
  }
  m->norm = pub_text_has(arch, "rmsnorm") ? TPS_NORM_RMSNORM : TPS_NORM_LAYERNORM;
  m->mlp = pub_text_has(arch, "swiglu") ? TPS_MLP_SWIGLU : TPS_MLP_GELU;
  if (pub_text_has(arch, "learned pos")) {
    m->position = TPS_POSITION_LEARNED;
    m->max_position = seq_len;
  } else if (pub_text_has(arch, "rope")) {
    m->position = TPS_POSITION_ROPE;
  } else {
    m->position = TPS_POSITION_NONE;
  }
  if (pub_text_has(arch, "untied") || pub_text_has(arch, "not tied"))
    m->tied_embeddings = false;
  else
    m->tied_embeddings = pub_text_has(arch, "tied");
  bool gpt = pub_text_has(arch, "gpt");
  m->bias = gpt;
  m->qkv_bias = gpt || pub_text_has(arch, "qkv bias");
  m->dropout = gpt;
  return true;
}

typedef struct device_rule {
  const char *has;      /* must occur */
  const char *also;     /* must also occur, or NULL */
  const char *also2;    /* alternative to `also`, or NULL */
  const char *unless1;  /* must not occur, or NULL */
  const char *unless2;
  const char *profile;
} device_rule;

static const device_rule device_rules[] = {
    {"910B2", NULL, NULL, NULL, NULL, "910b2"},
    {"910B3", NULL, NULL, NULL, NULL, "910b3"},
    {"H200", NULL, NULL, NULL, NULL, "h200"},
    {"H800", NULL, NULL, NULL, NULL, "h800"},
    {"H100", NULL, NULL, "PCIe", "NVL", "h100-sxm"},
    {"A100", "80GB", "80 GB", NULL, NULL, "a100-80g-sxm"},
    {"A100", NULL, NULL, NULL, NULL, "a100-40g-sxm"},
};

const char *pub_device_profile(const char *device) {
  if (!device) return NULL;
  for (size_t i = 0; i < sizeof device_rules / sizeof device_rules[0]; i++) {
    const device_rule *r = &device_rules[i];
    if (!pub_text_has(device, r->has)) continue;
    if (r->also && !pub_text_has(device, r->also) && !(r->also2 && pub_text_has(device, r->also2)))
      continue;
    if ((r->unless1 && pub_text_has(device, r->unless1)) ||
        (r->unless2 && pub_text_has(device, r->unless2)))
      continue;
    return r->profile;
  }
  return NULL;
}

tps_precision pub_precision(const char *text, int year, bool *explicit_out) {
  bool bf = pub_text_has(text, "bf16"), fp = pub_text_has(text, "fp16"),
       f32 = pub_text_has(text, "fp32");
  *explicit_out = true;
  if (bf && !fp) return TPS_PRECISION_BF16;
  if (fp && !bf) return TPS_PRECISION_FP16;
  if (f32 && !bf && !fp) return TPS_PRECISION_FP32;
  *explicit_out = false;
  return year > 0 && year < 2021 ? TPS_PRECISION_FP16 : TPS_PRECISION_BF16;
}

bool pub_recompute(const char *text, tps_recompute *out) {
  if (!text) return false;
  while (*text && !isalpha((unsigned char)*text)) text++;
  char word[16];
  size_t n = 0;
  while (text[n] && isalpha((unsigned char)text[n]) && n + 1 < sizeof word) {
    word[n] = (char)lower(text[n]);
    n++;
  }
  word[n] = '\0';
  if (isalpha((unsigned char)text[n])) return false; /* longer than any accepted word */
  static const char *const none[] = {"none", "no", "false", "off"};
  for (size_t i = 0; i < sizeof none / sizeof none[0]; i++)
    if (strcmp(word, none[i]) == 0) {
      *out = TPS_RECOMPUTE_NONE;
      return true;
    }
  if (strcmp(word, "selective") == 0) {
    *out = TPS_RECOMPUTE_SELECTIVE;
    return true;
  }
  if (strcmp(word, "full") == 0) {
    *out = TPS_RECOMPUTE_FULL;
    return true;
  }
  return false;
}

int pub_flash_stated(const char *text) {
  static const char *const off[] = {"no flash", "without flash", "flash off", "non-flash",
                                    "unfused"};
  for (size_t i = 0; i < sizeof off / sizeof off[0]; i++)
    if (pub_text_has(text, off[i])) return 0;
  return pub_text_has(text, "flash") ? 1 : -1;
}

int pub_year_in(const char *text) {
  if (!text) return 0;
  int best = 0;
  for (const char *p = text; *p; p++) {
    int year = 0;
    if (isdigit((unsigned char)*p) && (p == text || !isdigit((unsigned char)p[-1]))) {
      size_t n = 0;
      while (isdigit((unsigned char)p[n])) n++;
      if (n == 4) {
        int v = (p[0] - '0') * 1000 + (p[1] - '0') * 100 + (p[2] - '0') * 10 + (p[3] - '0');
        if (v >= 2010 && v <= 2035) year = v;
      }
    } else if (starts_with_ci(p, "arxiv")) {
      /* "arXiv:YYMM.NNNNN" or "arXiv YYMM.NNNNN" */
      const char *q = p + 5;
      if (*q == ':' || *q == ' ') q++;
      if (isdigit((unsigned char)q[0]) && isdigit((unsigned char)q[1]) &&
          isdigit((unsigned char)q[2]) && isdigit((unsigned char)q[3]) && q[4] == '.')
        year = 2000 + (q[0] - '0') * 10 + (q[1] - '0');
    }
    if (year && (best == 0 || year < best)) best = year;
  }
  return best;
}

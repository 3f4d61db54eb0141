/*
 * Scoring kernel for a binary:logistic XGBoost forest in the level layout of api/treeeval.py.
 *
 * Plain C with no Python headers, loaded through ctypes (api/ckernel.py), so one build serves any
 * Python. Every tree is a complete binary tree stored level by level: at level L, slot j of tree
 * t is at start(L) + t * 2^L + j, with start(L) = n_trees * (2^L - 1), and its children are slots
 * 2j and 2j + 1 of the next level. LANES trees are walked in lockstep so their loads overlap
 * (n_trees is padded to a multiple of LANES with trees whose leaves are 0).
 *
 * Missing values: the row is extended to [x with NaN -> -inf, x with NaN -> +inf, 0] and a split
 * reads the copy that sends a missing value its default way; XGBoost goes right when
 * !(value < split), which for these copies is value >= split. Leaves are added in tree order in
 * float32, as XGBoost does; build without -ffast-math so that order is kept.
 */
#include <math.h>
#include <stdint.h>

#define LANES 8
#define ABI_VERSION 1

typedef struct {
    const int32_t *column;    /* per slot: column of the extended row (2 * n_features: always left) */
    const float *threshold;   /* per slot: split value (+inf for a pass-through slot) */
    const float *leaf;        /* n_trees * 2^depth leaf values */
    int32_t n_trees;          /* a multiple of LANES */
    int32_t depth;
    int32_t n_features;
    float base_margin;
} fd_forest;

int32_t fd_abi_version(void) { return ABI_VERSION; }

int32_t fd_forest_size(void) { return (int32_t)sizeof(fd_forest); }

int32_t fd_lanes(void) { return LANES; }

void fd_predict(const fd_forest *forest, const float *x, int64_t n_rows, float *out) {
    const int32_t nf = forest->n_features;
    float ext[2 * nf + 1];
    for (int64_t r = 0; r < n_rows; r++) {
        const float *row = x + r * nf;
        for (int32_t f = 0; f < nf; f++) {
            const float v = row[f];
            ext[f] = isnan(v) ? -INFINITY : v;
            ext[nf + f] = isnan(v) ? INFINITY : v;
        }
        ext[2 * nf] = 0.0f;
        float margin = forest->base_margin;
        for (int32_t t0 = 0; t0 < forest->n_trees; t0 += LANES) {
            int64_t pos[LANES];
            for (int b = 0; b < LANES; b++) pos[b] = t0 + b;
            int64_t start = 0, width = forest->n_trees;
            for (int32_t level = 0; level < forest->depth; level++) {
                for (int b = 0; b < LANES; b++) {
                    const int64_t i = start + pos[b];
                    pos[b] = 2 * pos[b] + (ext[forest->column[i]] >= forest->threshold[i]);
                }
                start += width;
                width *= 2;
            }
            for (int b = 0; b < LANES; b++) margin += forest->leaf[pos[b]];
        }
        out[r] = 1.0f / (1.0f + expf(-margin));
    }
}

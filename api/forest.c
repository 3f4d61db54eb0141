/*
 * Scoring kernel for a binary:logistic XGBoost forest in the level layout of api/treeeval.py.
 *
 * Plain C with no Python headers, loaded through ctypes (api/ckernel.py), so one build serves any
 * Python. Every tree is a complete binary tree stored level by level: at level L, slot j of tree
 * t is at start(L) + t * 2^L + j, with start(L) = n_trees * (2^L - 1), and its children are slots
 * 2j and 2j + 1 of the next level. LANES trees are walked in lockstep so their loads overlap
 * (n_trees is padded to a multiple of LANES with trees whose leaves are 0), and a batch is scored
 * in blocks of BLOCK rows so that each group of trees is read once per block, not once per row.
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

/* Each group of LANES trees is walked for every row of a block before the next group is read (its
 * nodes stay in L1); a row still adds its leaves in tree order, so the sum is unchanged. The lanes
 * are spelled out so that the compiler keeps their positions in registers (~2x a loop over them). */
#define BLOCK 16
_Static_assert(LANES == 8, "fd_predict spells out eight lanes");

void fd_predict(const fd_forest *forest, const float *x, int64_t n_rows, float *out) {
    const int32_t nf = forest->n_features;
    const int32_t we = 2 * nf + 1;
    const int32_t *restrict column = forest->column;
    const float *restrict threshold = forest->threshold;
    const float *restrict leaf = forest->leaf;
    const int64_t n_trees = forest->n_trees;
    const int32_t depth = forest->depth;
    float ext[BLOCK * we];
    float margin[BLOCK];
    for (int64_t r0 = 0; r0 < n_rows; r0 += BLOCK) {
        const int64_t nb = n_rows - r0 < BLOCK ? n_rows - r0 : BLOCK;
        for (int64_t b = 0; b < nb; b++) {
            const float *row = x + (r0 + b) * nf;
            float *e = ext + b * we;
            for (int32_t f = 0; f < nf; f++) {
                const float v = row[f];
                e[f] = isnan(v) ? -INFINITY : v;
                e[nf + f] = isnan(v) ? INFINITY : v;
            }
            e[2 * nf] = 0.0f;
            margin[b] = forest->base_margin;
        }
        for (int64_t t0 = 0; t0 < n_trees; t0 += LANES) {
            for (int64_t b = 0; b < nb; b++) {
                const float *e = ext + b * we;
                int64_t p0 = t0, p1 = t0 + 1, p2 = t0 + 2, p3 = t0 + 3;
                int64_t p4 = t0 + 4, p5 = t0 + 5, p6 = t0 + 6, p7 = t0 + 7;
                int64_t start = 0, width = n_trees;
                for (int32_t level = 0; level < depth; level++) {
#define STEP(p) { const int64_t i = start + p; p = 2 * p + (e[column[i]] >= threshold[i]); }
                    STEP(p0) STEP(p1) STEP(p2) STEP(p3) STEP(p4) STEP(p5) STEP(p6) STEP(p7)
#undef STEP
                    start += width;
                    width *= 2;
                }
                float m = margin[b];
                m += leaf[p0]; m += leaf[p1]; m += leaf[p2]; m += leaf[p3];
                m += leaf[p4]; m += leaf[p5]; m += leaf[p6]; m += leaf[p7];
                margin[b] = m;
            }
        }
        for (int64_t b = 0; b < nb; b++) out[r0 + b] = 1.0f / (1.0f + expf(-margin[b]));
    }
}

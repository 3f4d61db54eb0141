/*
 * Scoring kernel for a binary:logistic XGBoost forest in the level layout of api/treeeval.py.
 *
 * Plain C with no Python headers, loaded through ctypes (api/ckernel.py), so one build serves any
 * Python. Every tree is a complete binary tree stored level by level: at level L, slot j of tree
 * t is at start(L) + t * 2^L + j, with start(L) = n_trees * (2^L - 1), and its children are slots
 * 2j and 2j + 1 of the next level; a slot holds its split's column and value side by side.
 * LANES trees are walked in lockstep so their loads overlap (n_trees is padded to a multiple of LANES with trees whose leaves are 0), and a batch is scored
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
#define ABI_VERSION 2

typedef struct {
    int32_t column;  /* column of the extended row (2 * n_features: always left) */
    float threshold; /* split value (+inf for a pass-through slot) */
} fd_node;

typedef struct {
    const fd_node *node;      /* every slot of every level: one 8-byte load per step */
    const float *leaf;        /* n_trees * 2^depth leaf values */
    int32_t n_trees;          /* a multiple of LANES */
    int32_t depth;
    int32_t n_features;
    float base_margin;
} fd_forest;

int32_t fd_abi_version(void) { return ABI_VERSION; }

int32_t fd_forest_size(void) { return (int32_t)sizeof(fd_forest); }

int32_t fd_node_size(void) { return (int32_t)sizeof(fd_node); }

int32_t fd_lanes(void) { return LANES; }

/* Each group of LANES trees is walked for every row of a block before the next group is read, so
 * a request of up to BLOCK rows reads each tree once: inside a server the forest (~200 KB for 500
 * trees of depth 5) does not stay in cache between requests, and reading it once per 16 rows cost
 * 2-3x the walk. Two rows go through a group side by side (16 independent chains of loads); a row
 * still adds its leaves in tree order, so the sum is unchanged. The lanes are spelled out so that
 * the compiler keeps their positions in registers (~2x a loop over them). */
#define BLOCK 128
_Static_assert(LANES == 8, "fd_predict spells out eight lanes");

#define STEP(p, r) { const fd_node k = level_nodes[p]; p = 2 * p + (r[k.column] >= k.threshold); }
#define ADD(m, p) { m += leaf[p##0]; m += leaf[p##1]; m += leaf[p##2]; m += leaf[p##3]; \
                    m += leaf[p##4]; m += leaf[p##5]; m += leaf[p##6]; m += leaf[p##7]; }

/* One row (e) through the trees t0 .. t0 + LANES - 1, its margin += their leaves in tree order. */
static inline void walk1(const fd_forest *forest, int64_t t0, const float *e, float *margin) {
    const float *restrict leaf = forest->leaf;
    const fd_node *level_nodes = forest->node;
    int64_t width = forest->n_trees;
    int64_t p0 = t0, p1 = t0 + 1, p2 = t0 + 2, p3 = t0 + 3, p4 = t0 + 4, p5 = t0 + 5, p6 = t0 + 6, p7 = t0 + 7;
    for (int32_t level = 0; level < forest->depth; level++) {
        STEP(p0, e) STEP(p1, e) STEP(p2, e) STEP(p3, e) STEP(p4, e) STEP(p5, e) STEP(p6, e) STEP(p7, e)
        level_nodes += width;
        width *= 2;
    }
    float m = *margin;
    ADD(m, p)
    *margin = m;
}

/* Two rows (e, g) side by side through the same trees: 16 independent chains of loads. */
static inline void walk2(const fd_forest *forest, int64_t t0, const float *e, const float *g, float *margin) {
    const float *restrict leaf = forest->leaf;
    const fd_node *level_nodes = forest->node;
    int64_t width = forest->n_trees;
    int64_t p0 = t0, p1 = t0 + 1, p2 = t0 + 2, p3 = t0 + 3, p4 = t0 + 4, p5 = t0 + 5, p6 = t0 + 6, p7 = t0 + 7;
    int64_t q0 = p0, q1 = p1, q2 = p2, q3 = p3, q4 = p4, q5 = p5, q6 = p6, q7 = p7;
    for (int32_t level = 0; level < forest->depth; level++) {
        STEP(p0, e) STEP(q0, g) STEP(p1, e) STEP(q1, g) STEP(p2, e) STEP(q2, g) STEP(p3, e) STEP(q3, g)
        STEP(p4, e) STEP(q4, g) STEP(p5, e) STEP(q5, g) STEP(p6, e) STEP(q6, g) STEP(p7, e) STEP(q7, g)
        level_nodes += width;
        width *= 2;
    }
    float m = margin[0], n = margin[1];
    ADD(m, p)
    ADD(n, q)
    margin[0] = m;
    margin[1] = n;
}
#undef STEP
#undef ADD

void fd_predict(const fd_forest *forest, const float *x, int64_t n_rows, float *out) {
    const int32_t nf = forest->n_features;
    const int32_t we = 2 * nf + 1;
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
        for (int64_t t0 = 0; t0 < forest->n_trees; t0 += LANES) {
            int64_t b = 0;
            for (; b + 1 < nb; b += 2) walk2(forest, t0, ext + b * we, ext + (b + 1) * we, margin + b);
            if (b < nb) walk1(forest, t0, ext + b * we, margin + b);
        }
        for (int64_t b = 0; b < nb; b++) out[r0 + b] = 1.0f / (1.0f + expf(-margin[b]));
    }
}

/*
 * The lean batch path in C: the numeric check of api/batch.py in one pass over the parsed rows
 * (fr_numbers), and the encoding of its columns into the model's float32 matrix (fr_encode).
 *
 * Built against this interpreter's headers (api/ckernel.py) and loaded with ctypes.PyDLL, so it is
 * called with the GIL held and reads the objects orjson made: rows (a list of dicts) and the names
 * of the numeric fields they hold (a tuple of str, integer fields first). It only ever says yes:
 * any value it cannot prove valid returns 0 and the caller falls back to the Python check (and so
 * to pydantic), with no Python error left set. Every value must be exactly an int or a float (not
 * a bool), or None where the field is nullable; an integer field holds an int that fits int64
 * (None and floats are left to pydantic, as the Python check does); a value must lie in
 * [lo, hi]. The values land in `out`, row-major (n_rows x n_names), as float64.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>

#define ROWS_ABI_VERSION 2

int32_t fr_abi_version(void) { return ROWS_ABI_VERSION; }

int32_t fr_numbers(PyObject *rows, PyObject *names, int64_t n_ints, const double *lo, const double *hi,
                   const uint8_t *nullable, double *out) {
    if (!PyList_CheckExact(rows) || !PyTuple_CheckExact(names)) return 0;
    const Py_ssize_t n = PyList_GET_SIZE(rows), k = PyTuple_GET_SIZE(names);
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *row = PyList_GET_ITEM(rows, i);
        if (!PyDict_CheckExact(row)) return 0;
        double *dst = out + i * k;
        for (Py_ssize_t j = 0; j < k; j++) {
            PyObject *v = PyDict_GetItemWithError(row, PyTuple_GET_ITEM(names, j)); /* borrowed */
            double d;
            if (v == NULL) {
                PyErr_Clear(); /* absent (or an unhashable key's error): not this path's body */
                return 0;
            }
            if (v == Py_None) {
                if (j < n_ints || !nullable[j]) return 0;
                dst[j] = NAN;
                continue;
            }
            if (PyFloat_CheckExact(v)) {
                if (j < n_ints) return 0;
                d = PyFloat_AS_DOUBLE(v);
            } else if (PyLong_CheckExact(v)) {
                if (j < n_ints) {
                    int overflow = 0;
                    const long long x = PyLong_AsLongLongAndOverflow(v, &overflow);
                    if (overflow || (x == -1 && PyErr_Occurred())) {
                        PyErr_Clear();
                        return 0;
                    }
                    d = (double)x;
                } else {
                    d = PyLong_AsDouble(v);
                    if (d == -1.0 && PyErr_Occurred()) {
                        PyErr_Clear(); /* too large for a double */
                        return 0;
                    }
                }
            } else {
                return 0; /* a bool, a string, a list, ... */
            }
            if (!(d >= lo[j] && d <= hi[j])) return 0;
            dst[j] = d;
        }
    }
    return 1;
}

/*
 * flightdelay.core.features.encode_columns over the float64 matrix fr_numbers fills (n_rows x k,
 * row-major): feature f of row i becomes out[i * n_features + f], by op[f]:
 *   FR_COPY     column arg[3f] as it is (NaN: missing)
 *   FR_ZERO     column arg[3f], NaN as 0 (PRECIP_HISTORY: none recorded)
 *   FR_MINUTE   minute of the day of the hhmm in column arg[3f]
 *   FR_WEEKDAY  weekday (Monday 0) of the date in columns arg[3f], arg[3f + 1], arg[3f + 2]
 *   FR_CATEGORY the code of the row's value in categories[f] = (values, lookup): values a list of
 *               str, lookup a dict of str -> float; NaN for a value it does not hold
 *   FR_MISSING  NaN (an input the rows leave out)
 *   FR_NONE     0 (a PRECIP_HISTORY input the rows leave out)
 * Each value is computed in float64 as numpy does it, then rounded to float32 once. Returns 1, or
 * 0 with no Python error left set when a category entry is not what it must be (the caller then
 * encodes in Python).
 */
enum { FR_COPY = 0, FR_ZERO = 1, FR_MINUTE = 2, FR_WEEKDAY = 3, FR_CATEGORY = 4, FR_MISSING = 5, FR_NONE = 6 };

static int weekday(int64_t y, int64_t m, int64_t d) {
    static const int offset[12] = {0, 3, 2, 5, 0, 3, 5, 1, 4, 6, 2, 4}; /* Sakamoto: 0 is Sunday */
    if (m < 3) y -= 1;
    return (int)((y + y / 4 - y / 100 + y / 400 + offset[m - 1] + d + 6) % 7);
}

int32_t fr_encode(const double *matrix, int64_t n, int64_t k, int64_t n_features, const int32_t *op,
                  const int32_t *arg, PyObject *categories, float *out) {
    if (!PyTuple_CheckExact(categories) || PyTuple_GET_SIZE(categories) != n_features) return 0;
    for (int64_t f = 0; f < n_features; f++) {
        const int32_t a = arg[3 * f];
        switch (op[f]) {
        case FR_COPY:
            for (int64_t i = 0; i < n; i++) out[i * n_features + f] = (float)matrix[i * k + a];
            break;
        case FR_ZERO:
            for (int64_t i = 0; i < n; i++) {
                const double v = matrix[i * k + a];
                out[i * n_features + f] = isnan(v) ? 0.0f : (float)v;
            }
            break;
        case FR_MINUTE:
            for (int64_t i = 0; i < n; i++) {
                const double hhmm = trunc(matrix[i * k + a]);
                out[i * n_features + f] = (float)(floor(hhmm / 100) * 60 + fmod(hhmm, 100));
            }
            break;
        case FR_WEEKDAY:
            for (int64_t i = 0; i < n; i++) {
                const double *row = matrix + i * k;
                const double y = row[a], m = row[arg[3 * f + 1]], d = row[arg[3 * f + 2]];
                /* validated rows never fail this; it keeps NaN and wild values out of the casts */
                if (!(y >= 1 && y <= 9999 && m >= 1 && m <= 12 && d >= 1 && d <= 31)) return 0;
                out[i * n_features + f] = (float)weekday((int64_t)y, (int64_t)m, (int64_t)d);
            }
            break;
        case FR_CATEGORY: {
            PyObject *entry = PyTuple_GET_ITEM(categories, f);
            if (!PyTuple_CheckExact(entry) || PyTuple_GET_SIZE(entry) != 2) return 0;
            PyObject *values = PyTuple_GET_ITEM(entry, 0), *lookup = PyTuple_GET_ITEM(entry, 1);
            if (!PyList_CheckExact(values) || PyList_GET_SIZE(values) != n || !PyDict_CheckExact(lookup)) return 0;
            for (int64_t i = 0; i < n; i++) {
                PyObject *value = PyList_GET_ITEM(values, i);
                if (!PyUnicode_CheckExact(value)) return 0;
                PyObject *code = PyDict_GetItemWithError(lookup, value); /* borrowed */
                if (code == NULL) {
                    if (PyErr_Occurred()) {
                        PyErr_Clear();
                        return 0;
                    }
                    out[i * n_features + f] = NAN;
                } else if (PyFloat_CheckExact(code)) {
                    out[i * n_features + f] = (float)PyFloat_AS_DOUBLE(code);
                } else {
                    return 0;
                }
            }
            break;
        }
        case FR_MISSING:
            for (int64_t i = 0; i < n; i++) out[i * n_features + f] = NAN;
            break;
        case FR_NONE:
            for (int64_t i = 0; i < n; i++) out[i * n_features + f] = 0.0f;
            break;
        default:
            return 0;
        }
    }
    return 1;
}

//! Matrix products and element-wise kernels.
//!
//! Every fast kernel has a naive twin here, used by the tests as its reference.
//! Matrices are strided views into slices ([`MatRef`], [`MatMut`]), so a transpose is free.

pub use real::Real;

pub mod math;
mod real;
pub mod sgemm;

/// A read-only strided matrix view: element `(i, j)` is `data[i * rs + j * cs]`.
///
/// The fields are private and every constructor checks, with overflow-checked arithmetic,
/// that each element `(i, j)` with `i < rows`, `j < cols` lies inside `data`, and that both
/// strides are at most `isize::MAX`. The kernels' `unsafe` code relies on this invariant
/// instead of checking indices in its loops.
#[derive(Clone, Copy, Debug)]
pub struct MatRef<'a, T> {
    data: &'a [T],
    rows: usize,
    cols: usize,
    rs: usize,
    cs: usize,
}

/// A mutable strided matrix view: element `(i, j)` is `data[i * rs + j * cs]`.
///
/// Its constructors check what [`MatRef`]'s do and also that no two elements share a place in
/// `data` (a product may write its elements in any order, from any thread).
#[derive(Debug)]
pub struct MatMut<'a, T> {
    data: &'a mut [T],
    rows: usize,
    cols: usize,
    rs: usize,
    cs: usize,
}

/// How many elements of its slice a `rows x cols` view with strides `rs`, `cs` spans: one past
/// its last element's index, or 0 when it has no elements; `None` if that overflows `usize`.
fn span(rows: usize, cols: usize, rs: usize, cs: usize) -> Option<usize> {
    if rows == 0 || cols == 0 {
        return Some(0);
    }
    (rows - 1)
        .checked_mul(rs)?
        .checked_add((cols - 1).checked_mul(cs)?)?
        .checked_add(1)
}

/// Whether the map `(i, j) -> i * rs + j * cs` is one-to-one on the view: the elements along
/// one dimension fit between two steps of the other. (Sufficient, not necessary: interleaved
/// layouts such as 3 x 2 with `rs = 2, cs = 3` are refused although their elements are
/// distinct.)
fn distinct(rows: usize, cols: usize, rs: usize, cs: usize) -> bool {
    if rows == 0 || cols == 0 {
        return true;
    }
    if rows == 1 || cols == 1 {
        return (rows == 1 || rs != 0) && (cols == 1 || cs != 0);
    }
    let rows_apart = cs != 0 && span(1, cols, 0, cs).is_some_and(|w| w <= rs);
    let cols_apart = rs != 0 && span(rows, 1, rs, 0).is_some_and(|h| h <= cs);
    rows_apart || cols_apart
}

/// Panics unless a `rows x cols` view with strides `rs`, `cs` lies inside `len` elements.
#[track_caller]
fn check_view(what: &str, len: usize, rows: usize, cols: usize, rs: usize, cs: usize) {
    const MAX: usize = isize::MAX as usize;
    assert!(
        rs <= MAX && cs <= MAX,
        "{what}: strides ({rs}, {cs}) above isize::MAX"
    );
    match span(rows, cols, rs, cs) {
        Some(n) => assert!(
            n <= len,
            "{what}: a {rows}x{cols} view with strides ({rs}, {cs}) spans {n} elements, \
             the slice has {len}"
        ),
        None => panic!("{what}: a {rows}x{cols} view with strides ({rs}, {cs}) overflows usize"),
    }
}

impl<'a, T> MatRef<'a, T> {
    /// A row-major `rows x cols` matrix over the first `rows * cols` elements of `data`.
    ///
    /// # Panics
    /// If `data` is shorter than `rows * cols`, that product overflows, or `cols` is above
    /// `isize::MAX`.
    #[track_caller]
    pub fn new(data: &'a [T], rows: usize, cols: usize) -> Self {
        Self::strided(data, rows, cols, cols, 1)
    }

    /// A `rows x cols` matrix whose element `(i, j)` is `data[i * rs + j * cs]`. Any strides
    /// are allowed (zero repeats a row or a column), as long as the view fits.
    ///
    /// # Panics
    /// If an element lies past the end of `data`, computing its index overflows, or a stride
    /// is above `isize::MAX`.
    #[track_caller]
    pub fn strided(data: &'a [T], rows: usize, cols: usize, rs: usize, cs: usize) -> Self {
        check_view("MatRef", data.len(), rows, cols, rs, cs);
        MatRef {
            data,
            rows,
            cols,
            rs,
            cs,
        }
    }

    /// The transpose (a view: nothing moves).
    pub fn t(self) -> Self {
        // The invariant is symmetric in (rows, rs) and (cols, cs).
        MatRef {
            data: self.data,
            rows: self.cols,
            cols: self.rows,
            rs: self.cs,
            cs: self.rs,
        }
    }

    /// Rows.
    #[inline]
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Columns.
    #[inline]
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// Distance in `data` between rows.
    #[inline]
    pub fn row_stride(&self) -> usize {
        self.rs
    }

    /// Distance in `data` between columns.
    #[inline]
    pub fn col_stride(&self) -> usize {
        self.cs
    }

    /// The whole slice the view reads from (it may hold more than the view's elements).
    #[inline]
    pub fn data(&self) -> &'a [T] {
        self.data
    }

    /// Element `(i, j)`.
    ///
    /// # Panics
    /// If the index `i * rs + j * cs` lies outside the slice (debug builds also check
    /// `i < rows` and `j < cols`).
    #[inline]
    pub fn at(&self, i: usize, j: usize) -> T
    where
        T: Copy,
    {
        debug_assert!(
            i < self.rows && j < self.cols,
            "({i}, {j}) outside the view"
        );
        self.data[i * self.rs + j * self.cs]
    }
}

impl<'a, T> MatMut<'a, T> {
    /// A row-major `rows x cols` matrix over the first `rows * cols` elements of `data`.
    ///
    /// # Panics
    /// If `data` is shorter than `rows * cols`, that product overflows, or `cols` is above
    /// `isize::MAX`.
    #[track_caller]
    pub fn new(data: &'a mut [T], rows: usize, cols: usize) -> Self {
        Self::strided(data, rows, cols, cols, 1)
    }

    /// A `rows x cols` matrix whose element `(i, j)` is `data[i * rs + j * cs]`, with no two
    /// elements in the same place: the rows (or the columns) must not overlap.
    ///
    /// # Panics
    /// As [`MatRef::strided`], and if two elements would share a place in `data`.
    #[track_caller]
    pub fn strided(data: &'a mut [T], rows: usize, cols: usize, rs: usize, cs: usize) -> Self {
        check_view("MatMut", data.len(), rows, cols, rs, cs);
        assert!(
            distinct(rows, cols, rs, cs),
            "MatMut: a {rows}x{cols} view with strides ({rs}, {cs}) has overlapping elements"
        );
        MatMut {
            data,
            rows,
            cols,
            rs,
            cs,
        }
    }

    /// Rows.
    #[inline]
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Columns.
    #[inline]
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// Distance in `data` between rows.
    #[inline]
    pub fn row_stride(&self) -> usize {
        self.rs
    }

    /// Distance in `data` between columns.
    #[inline]
    pub fn col_stride(&self) -> usize {
        self.cs
    }
}

/// `C <- alpha * A B + beta * C` with the fast kernel. With `beta == 0`, C's old contents are
/// ignored (even NaN).
///
/// # Panics
/// If the shapes disagree.
pub fn gemm<T: Real>(alpha: T, a: MatRef<T>, b: MatRef<T>, beta: T, c: MatMut<T>) {
    check(&a, &b, &c);
    if c.rows == 0 || c.cols == 0 {
        return;
    }
    let (zero, one) = (T::zero(), T::one());
    if alpha == one && (beta == zero || beta == one) && b.cs == 1 && c.cs == 1 {
        // SAFETY: `gemm_unit`'s contract, as `sgemm::sgemm`'s: the views' constructors proved
        // that every element (i, p) of A, (p, j) of B and (i, j) of C, at in-range indices, lies
        // inside its slice (and B's and C's column strides are 1, as the formulas there
        // assume); the pointers come from slices of `T`, so they are aligned; C comes from a
        // `&mut` slice, so it overlaps neither A nor B.
        let done = unsafe {
            T::gemm_unit(
                c.rows,
                c.cols,
                a.cols,
                a.data.as_ptr(),
                a.rs,
                a.cs,
                b.data.as_ptr(),
                b.rs,
                beta == one,
                c.data.as_mut_ptr(),
                c.rs,
            )
        };
        if done {
            return;
        }
    }
    // SAFETY: `gemm_raw`'s contract: every element at in-range indices lies inside its slice
    // (the views' invariant); the strides are at most `isize::MAX` (also the invariant), so
    // the casts keep their values; C's elements are distinct (`MatMut`'s invariant), and C
    // comes from a `&mut` slice, so it overlaps neither A nor B.
    unsafe {
        T::gemm_raw(
            c.rows,
            a.cols,
            c.cols,
            alpha,
            a.data.as_ptr(),
            a.rs as isize,
            a.cs as isize,
            b.data.as_ptr(),
            b.rs as isize,
            b.cs as isize,
            beta,
            c.data.as_mut_ptr(),
            c.rs as isize,
            c.cs as isize,
        )
    }
}

/// The naive twin of [`gemm`]: three loops, the obvious summation order.
pub fn gemm_naive<T: Real>(alpha: T, a: MatRef<T>, b: MatRef<T>, beta: T, c: MatMut<T>) {
    check(&a, &b, &c);
    for i in 0..c.rows {
        for j in 0..c.cols {
            let mut s = T::zero();
            for p in 0..a.cols {
                s += a.at(i, p) * b.at(p, j);
            }
            let out = &mut c.data[i * c.rs + j * c.cs];
            *out = if beta == T::zero() {
                alpha * s
            } else {
                alpha * s + beta * *out
            };
        }
    }
}

/// The shapes of a product agree. (That each view lies inside its slice, its constructor
/// checked.)
#[track_caller]
fn check<T>(a: &MatRef<T>, b: &MatRef<T>, c: &MatMut<T>) {
    assert_eq!(a.cols, b.rows, "gemm inner dimensions");
    assert_eq!(a.rows, c.rows, "gemm output rows");
    assert_eq!(b.cols, c.cols, "gemm output cols");
}

/// A right-hand matrix prepared once for many products `A B` (the recurrent weights, used at
/// every step of a chunk): column panels for the SIMD kernel, or a plain row-major copy.
///
/// Invariant (the fields are private): with `nr == 0`, `data` is meant to hold the `k x n`
/// row-major copy (and [`gemm_packed`] views it through the checked [`MatRef::new`]); with
/// `nr > 0`, `data` is exactly what `T::pack_panels` made of a `k x n` matrix at width `nr`.
#[derive(Clone, Debug, Default)]
pub struct Packed<T> {
    k: usize,
    n: usize,
    /// Panel width, or 0 for a plain `k x n` row-major copy.
    nr: usize,
    data: Vec<T>,
}

impl<T: Real> Packed<T> {
    /// Rows (k).
    pub fn rows(&self) -> usize {
        self.k
    }

    /// Columns (n).
    pub fn cols(&self) -> usize {
        self.n
    }

    /// Prepare `b` (any strides), reusing the buffer.
    ///
    /// # Panics
    /// If the prepared copy's size overflows `usize` (possible only for a view that repeats
    /// elements through a zero stride).
    pub fn pack(&mut self, b: MatRef<T>) {
        // The panel-free state first, which `gemm_packed` checks in full: if packing panics
        // half-way, no panels of another shape stay behind for the unchecked path.
        self.nr = 0;
        self.k = b.rows;
        self.n = b.cols;
        match T::panel_width() {
            Some(nr) => {
                assert!(nr > 0, "pack: panel width 0");
                // SAFETY: `pack_panels`' contract: every element (p, j) of B at in-range indices
                // lies inside `b.data` (the view's invariant), and `nr > 0` is a width
                // `panel_width` returned.
                unsafe {
                    T::pack_panels(
                        b.rows,
                        b.cols,
                        b.data.as_ptr(),
                        b.rs,
                        b.cs,
                        nr,
                        &mut self.data,
                    )
                }
                self.nr = nr;
            }
            None => {
                let len = b.rows.checked_mul(b.cols).expect("pack: k * n overflows");
                self.data.clear();
                self.data
                    .extend((0..len).map(|i| b.at(i / b.cols, i % b.cols)));
            }
        }
    }
}

/// `C <- A B + beta C` (`beta` 0 or 1) for a prepared B.
///
/// # Panics
/// If the shapes disagree, C's columns are not contiguous, or `beta` is neither 0 nor 1.
pub fn gemm_packed<T: Real>(a: MatRef<T>, b: &Packed<T>, beta: T, c: MatMut<T>) {
    assert!(
        beta == T::zero() || beta == T::one(),
        "gemm_packed: beta is 0 or 1"
    );
    if b.nr == 0 {
        return gemm(T::one(), a, MatRef::new(&b.data, b.k, b.n), beta, c);
    }
    assert_eq!(
        (a.cols, a.rows, b.n),
        (b.k, c.rows, c.cols),
        "gemm_packed shapes"
    );
    assert!(c.cs == 1, "gemm_packed: C's columns are not contiguous");
    debug_assert_eq!(
        Some(b.nr),
        T::panel_width(),
        "gemm_packed: panels of another width"
    );
    if c.rows == 0 || c.cols == 0 {
        return;
    }
    // SAFETY: `gemm_panels`' contract: every element of A and C at in-range indices lies inside
    // its slice (the views' invariants; C's column stride is 1, checked above); `b.data` is
    // what `pack_panels` made of a `k x n` matrix at a width `b.nr` that `panel_width`
    // returned (`Packed`'s invariant: `nr` is set only after `pack_panels` returned), with
    // `k = a.cols` and `n = c.cols` (checked above); C comes from a `&mut` slice.
    unsafe {
        T::gemm_panels(
            c.rows,
            c.cols,
            a.cols,
            a.data.as_ptr(),
            a.rs,
            a.cs,
            b.data.as_ptr(),
            beta == T::one(),
            c.data.as_mut_ptr(),
            c.rs,
        )
    }
}

/// Add `bias[j]` to every row of the row-major `rows x bias.len()` matrix `x`.
pub fn add_row_bias<T: Real>(x: &mut [T], bias: &[T]) {
    for row in x.chunks_exact_mut(bias.len()) {
        for (v, &b) in row.iter_mut().zip(bias) {
            *v += b;
        }
    }
}

/// `acc[j] += sum_i x[i, j]` over the rows of the row-major matrix `x` with `acc.len()` columns.
///
/// Sixteen columns at a time, summed over all rows in registers and added to `acc` once (adding
/// each row into `acc` in memory chains every row's store to the next row's load); the sum over
/// the rows starts from zero and goes in row order, so with `acc` zero the result is the same.
pub fn add_col_sums<T: Real>(acc: &mut [T], x: &[T]) {
    const L: usize = 16;
    let n = acc.len();
    let mut j = 0;
    while j + L <= n {
        let mut s = [T::zero(); L];
        for row in x.chunks_exact(n) {
            let r: &[T; L] = row[j..j + L].try_into().expect("16 columns");
            for l in 0..L {
                s[l] += r[l];
            }
        }
        for (a, v) in acc[j..j + L].iter_mut().zip(s) {
            *a += v;
        }
        j += L;
    }
    for (jj, a) in acc.iter_mut().enumerate().skip(j) {
        let mut s = T::zero();
        for row in x.chunks_exact(n) {
            s += row[jj];
        }
        *a += s;
    }
}

/// Add `b1[j] + b2[j]` to every row of the row-major `rows x b1.len()` matrix `x`.
pub fn add_row_bias2<T: Real>(x: &mut [T], b1: &[T], b2: &[T]) {
    let n = b1.len();
    let b2 = &b2[..n];
    for row in x.chunks_exact_mut(n) {
        for j in 0..n {
            row[j] += b1[j] + b2[j];
        }
    }
}

/// `op` folded over 16 values by halving: `a[i] op a[i + w]` for w = 8, 4, 2, 1.
#[inline(always)]
pub fn fold_halving<T: Copy>(mut a: [T; 16], op: impl Fn(T, T) -> T) -> T {
    let mut w = 8;
    while w > 0 {
        for i in 0..w {
            a[i] = op(a[i], a[i + w]);
        }
        w /= 2;
    }
    a[0]
}

/// Columns per block of [`matvec_acc`]: one 512-bit vector of f32.
pub const MATVEC_LANES: usize = 16;

/// `a * b + c`, fused where the CPU has FMA (a library call would be slower than two ops).
#[inline(always)]
pub(crate) fn fma<T: Real>(a: T, b: T, c: T) -> T {
    if cfg!(target_feature = "fma") {
        a.mul_add(b, c)
    } else {
        a * b + c
    }
}

/// `y[j] += sum_k x[k] w[k, j]` for a row-major `x.len() x y.len()` matrix `w`: the product of
/// one row with a transposed weight matrix, for batch-1 steps (sampling).
///
/// The columns go in blocks of up to five vectors, each block one pass over `k` with two or
/// four interleaved running sums per vector, so at least four (mostly eight or more) FMA
/// chains are in flight. (Blocks of eight vectors made the compiler vectorize across `k` with
/// gathers instead, ten times slower: a 256-wide product ran at 12k steps/s.)
///
/// # Panics
/// If `y.len()` is not a multiple of [`MATVEC_LANES`] or `w` is not `x.len() * y.len()` long.
#[inline]
pub fn matvec_acc<T: Real>(x: &[T], w: &[T], y: &mut [T]) {
    matvec(x, w, None, y);
}

/// [`matvec_acc`] onto `base` instead of `y`'s contents: `y[j] = base[j] + sum_k x[k] w[k, j]`
/// (`base` as long as `y`).
#[inline]
pub fn matvec_from<T: Real>(x: &[T], w: &[T], base: &[T], y: &mut [T]) {
    assert_eq!(base.len(), y.len(), "matvec_from: base of another length");
    matvec(x, w, Some(base), y);
}

#[inline(always)]
fn matvec<T: Real>(x: &[T], w: &[T], base: Option<&[T]>, y: &mut [T]) {
    let (k, n) = (x.len(), y.len());
    assert_eq!(n % MATVEC_LANES, 0, "matvec needs whole blocks of columns");
    assert_eq!(
        Some(w.len()),
        k.checked_mul(n),
        "matvec: weights of another shape"
    );
    let mut j = 0;
    while n - j >= 6 * MATVEC_LANES {
        matvec_block::<T, 4, 2>(x, w, base, y, j);
        j += 4 * MATVEC_LANES;
    }
    match (n - j) / MATVEC_LANES {
        0 => {}
        1 => matvec_block::<T, 1, 4>(x, w, base, y, j),
        2 => matvec_block::<T, 2, 4>(x, w, base, y, j),
        3 => matvec_block::<T, 3, 2>(x, w, base, y, j),
        4 => matvec_block::<T, 4, 2>(x, w, base, y, j),
        _ => matvec_block::<T, 5, 2>(x, w, base, y, j),
    }
}

/// Columns `j .. j + NV * MATVEC_LANES` of [`matvec_acc`], with `P` interleaved sums over `k`.
#[inline(always)]
fn matvec_block<T: Real, const NV: usize, const P: usize>(
    x: &[T],
    w: &[T],
    base: Option<&[T]>,
    y: &mut [T],
    j: usize,
) {
    const L: usize = MATVEC_LANES;
    let (k, n) = (x.len(), y.len());
    assert!(j + NV * L <= n && k.checked_mul(n) == Some(w.len()));
    let mut acc = [[[T::zero(); L]; NV]; P];
    let whole = k / P * P;
    let wp = w.as_ptr();
    for k0 in (0..whole).step_by(P) {
        for (p, acc) in acc.iter_mut().enumerate() {
            // SAFETY: k0 + p < whole <= k = x.len(), so the read of `x` is in bounds; the
            // block of NV * L values from (k0 + p) * n + j ends at most at
            // (k - 1) * n + n = k * n = w.len() (by the assert above: j + NV * L <= n and
            // k * n == w.len() without overflow), so it lies inside `w`, which is borrowed
            // shared for the whole loop.
            let (xv, row) = unsafe {
                (
                    *x.get_unchecked(k0 + p),
                    std::slice::from_raw_parts(wp.add((k0 + p) * n + j), NV * L),
                )
            };
            for v in 0..NV {
                for l in 0..L {
                    acc[v][l] = fma(xv, row[v * L + l], acc[v][l]);
                }
            }
        }
    }
    for kk in whole..k {
        let row = &w[kk * n + j..][..NV * L];
        for v in 0..NV {
            for l in 0..L {
                acc[0][v][l] = fma(x[kk], row[v * L + l], acc[0][v][l]);
            }
        }
    }
    match base {
        Some(b) => {
            let (b, out) = (&b[j..j + NV * L], &mut y[j..j + NV * L]);
            for v in 0..NV {
                for l in 0..L {
                    out[v * L + l] = b[v * L + l] + sum_over(&acc, v, l);
                }
            }
        }
        None => {
            let out = &mut y[j..j + NV * L];
            for v in 0..NV {
                for l in 0..L {
                    out[v * L + l] += sum_over(&acc, v, l);
                }
            }
        }
    }
}

/// The `P` interleaved running sums of lane `l` of vector `v`, added in order.
#[inline(always)]
fn sum_over<T: Real, const NV: usize, const P: usize>(
    acc: &[[[T; MATVEC_LANES]; NV]; P],
    v: usize,
    l: usize,
) -> T {
    let mut s = acc[0][v][l];
    for a in &acc[1..] {
        s += a[v][l];
    }
    s
}

/// Sum of `x`, in eight running partial sums (so it vectorizes).
#[inline]
pub fn sum<T: Real>(x: &[T]) -> T {
    let mut acc = [T::zero(); 8];
    let chunks = x.chunks_exact(8);
    let tail = chunks.remainder();
    for c in chunks {
        for i in 0..8 {
            acc[i] += c[i];
        }
    }
    let mut s = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
    for &v in tail {
        s += v;
    }
    s
}

/// Largest element of `x` (`-inf` when empty), in eight running maxima.
#[inline]
pub fn max<T: Real>(x: &[T]) -> T {
    let mut acc = [T::neg_infinity(); 8];
    let chunks = x.chunks_exact(8);
    let tail = chunks.remainder();
    for c in chunks {
        for i in 0..8 {
            acc[i] = acc[i].max(c[i]);
        }
    }
    acc.into_iter()
        .chain(tail.iter().copied())
        .fold(T::neg_infinity(), T::max)
}

/// Sum of squares of `x`, in eight running partial sums, widened to f64 at the end.
pub fn sum_squares<T: Real>(x: &[T]) -> f64 {
    let mut acc = [T::zero(); 8];
    let chunks = x.chunks_exact(8);
    let tail = chunks.remainder();
    for c in chunks {
        for i in 0..8 {
            acc[i] += c[i] * c[i];
        }
    }
    acc.iter().map(|&a| a.f64()).sum::<f64>() + tail.iter().map(|&v| v.f64() * v.f64()).sum::<f64>()
}

/// Clip every element to `[-c, c]`; returns how many were clipped.
pub fn clip<T: Real>(x: &mut [T], c: T) -> usize {
    let mut n = 0;
    for v in x {
        if *v > c {
            *v = c;
            n += 1;
        } else if *v < -c {
            *v = -c;
            n += 1;
        }
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lcg(seed: &mut u64) -> f64 {
        *seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((*seed >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
    }

    #[test]
    fn gemm_matches_naive_on_odd_shapes_and_transposes() {
        let mut s = 7u64;
        for &(m, k, n) in &[
            (1, 1, 1),
            (3, 5, 7),
            (17, 13, 4),
            (33, 1, 65),
            (8, 64, 9),
            (0, 3, 2),
        ] {
            for ta in [false, true] {
                for tb in [false, true] {
                    let a: Vec<f64> = (0..m * k).map(|_| lcg(&mut s)).collect();
                    let b: Vec<f64> = (0..k * n).map(|_| lcg(&mut s)).collect();
                    let c0: Vec<f64> = (0..m * n).map(|_| lcg(&mut s)).collect();
                    let av = if ta {
                        MatRef::new(&a, k, m).t()
                    } else {
                        MatRef::new(&a, m, k)
                    };
                    let bv = if tb {
                        MatRef::new(&b, n, k).t()
                    } else {
                        MatRef::new(&b, k, n)
                    };
                    let (mut c1, mut c2) = (c0.clone(), c0.clone());
                    gemm(0.5, av, bv, 1.5, MatMut::new(&mut c1, m, n));
                    gemm_naive(0.5, av, bv, 1.5, MatMut::new(&mut c2, m, n));
                    for (x, y) in c1.iter().zip(&c2) {
                        assert!(
                            (x - y).abs() < 1e-12,
                            "{m}x{k}x{n} ta={ta} tb={tb}: {x} vs {y}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn sgemm_matches_naive_at_every_simd_level() {
        use super::sgemm::{level, sgemm_at, Level};
        let levels: Vec<Level> = match level() {
            Level::Avx512 if avx2_fma() => vec![Level::Avx512, Level::Avx2],
            Level::Avx512 => vec![Level::Avx512],
            Level::Avx2 => vec![Level::Avx2],
            Level::None => vec![],
        };
        let mut s = 11u64;
        let shapes = [
            (1, 1, 1),
            (2, 32, 32),
            (3, 7, 5),
            (13, 33, 17),
            (25, 70, 300),
            (12, 32, 16),
            (7, 513, 9),
            (40, 3, 600),
            (5, 0, 4),
            // Empty and k = 0 shapes: the entry handles them (m = 0 used to reach the row
            // tile dispatch and panic; k = 0 formed pointers past the empty A and B).
            (0, 5, 3),
            (0, 0, 0),
            (30, 70, 0),
            (3, 40, 0),
        ];
        for lv in levels {
            for &(m, n, k) in &shapes {
                for ta in [false, true] {
                    for acc in [false, true] {
                        let a: Vec<f32> = (0..m * k).map(|_| lcg(&mut s) as f32).collect();
                        let b: Vec<f32> = (0..k * n + 3).map(|_| lcg(&mut s) as f32).collect();
                        let c0: Vec<f32> = (0..m * (n + 2)).map(|_| lcg(&mut s) as f32).collect();
                        let av = if ta {
                            MatRef::new(&a, k, m).t()
                        } else {
                            MatRef::new(&a, m, k)
                        };
                        // B with a row stride wider than its width (one column fewer than
                        // the stride when it can spare one), C likewise.
                        let nn = if n <= 1 { n } else { n - 1 };
                        let bv = MatRef::strided(&b, k, nn, n, 1);
                        let (mut c1, mut c2) = (c0.clone(), c0.clone());
                        let beta = if acc { 1.0 } else { 0.0 };
                        // SAFETY: the CPU has `lv` (listed above); A, B and C are the views
                        // `av`, `bv` and `cv` (checked by their constructors), over `a`, `b`
                        // and `c1` (as long as `c2`), separate vectors.
                        let done = unsafe {
                            sgemm_at(
                                lv,
                                m,
                                nn,
                                k,
                                av.data().as_ptr(),
                                av.row_stride(),
                                av.col_stride(),
                                b.as_ptr(),
                                n,
                                acc,
                                c1.as_mut_ptr(),
                                n + 2,
                            )
                        };
                        assert!(done);
                        let cv = MatMut::strided(&mut c2, m, nn, n + 2, 1);
                        gemm_naive(1.0, av, bv, beta, cv);
                        for (i, (x, y)) in c1.iter().zip(&c2).enumerate() {
                            assert!(
                                (x - y).abs() <= 1e-4 * (1.0 + y.abs()),
                                "{lv:?} {m}x{nn}x{k} ta={ta} acc={acc} at {i}: {x} vs {y}"
                            );
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn gemm_f32_fast_path_matches_naive() {
        let mut s = 5u64;
        for &(m, k, n) in &[(4, 32, 32), (128, 4, 32), (65, 128, 32), (9, 17, 130)] {
            let a: Vec<f32> = (0..m * k).map(|_| lcg(&mut s) as f32).collect();
            let b: Vec<f32> = (0..k * n).map(|_| lcg(&mut s) as f32).collect();
            let c0: Vec<f32> = (0..m * n).map(|_| lcg(&mut s) as f32).collect();
            for beta in [0.0f32, 1.0] {
                let (mut c1, mut c2) = (c0.clone(), c0.clone());
                gemm(
                    1.0,
                    MatRef::new(&a, m, k),
                    MatRef::new(&b, k, n),
                    beta,
                    MatMut::new(&mut c1, m, n),
                );
                gemm_naive(
                    1.0,
                    MatRef::new(&a, m, k),
                    MatRef::new(&b, k, n),
                    beta,
                    MatMut::new(&mut c2, m, n),
                );
                for (x, y) in c1.iter().zip(&c2) {
                    assert!(
                        (x - y).abs() <= 1e-4 * (1.0 + y.abs()),
                        "{m}x{k}x{n}: {x} vs {y}"
                    );
                }
            }
        }
    }

    #[test]
    fn packed_products_match_naive() {
        let mut s = 3u64;
        for &(m, k, n) in &[
            (1, 1, 1),
            (4, 32, 32),
            (25, 70, 300),
            (13, 300, 33),
            (2, 5, 64),
            (30, 17, 65),
            (30, 0, 65),
            (0, 4, 33),
        ] {
            for tb in [false, true] {
                let a: Vec<f32> = (0..m * k).map(|_| lcg(&mut s) as f32).collect();
                let b: Vec<f32> = (0..k * n).map(|_| lcg(&mut s) as f32).collect();
                let c0: Vec<f32> = (0..m * n).map(|_| lcg(&mut s) as f32).collect();
                let bv = if tb {
                    MatRef::new(&b, n, k).t()
                } else {
                    MatRef::new(&b, k, n)
                };
                let mut p = Packed::default();
                p.pack(bv);
                for beta in [0.0f32, 1.0] {
                    let (mut c1, mut c2) = (c0.clone(), c0.clone());
                    gemm_packed(MatRef::new(&a, m, k), &p, beta, MatMut::new(&mut c1, m, n));
                    gemm_naive(
                        1.0,
                        MatRef::new(&a, m, k),
                        bv,
                        beta,
                        MatMut::new(&mut c2, m, n),
                    );
                    for (x, y) in c1.iter().zip(&c2) {
                        assert!(
                            (x - y).abs() <= 1e-4 * (1.0 + y.abs()),
                            "{m}x{k}x{n} tb={tb}: {x} vs {y}"
                        );
                    }
                }
            }
        }
        // f64 keeps a plain copy.
        let b = [1.0f64, 2.0, 3.0, 4.0];
        let mut p = Packed::default();
        p.pack(MatRef::new(&b, 2, 2).t());
        let mut c = [0.0f64; 2];
        gemm_packed(
            MatRef::new(&[1.0, 1.0], 1, 2),
            &p,
            0.0,
            MatMut::new(&mut c, 1, 2),
        );
        assert_eq!(c, [3.0, 7.0]);
    }

    fn avx2_fma() -> bool {
        #[cfg(target_arch = "x86_64")]
        {
            is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma")
        }
        #[cfg(not(target_arch = "x86_64"))]
        false
    }

    #[test]
    fn views_take_any_strides_that_fit() {
        let d = [0.0f32, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        let m = MatRef::strided(&d, 2, 3, 4, 1);
        assert_eq!(
            (m.rows(), m.cols(), m.row_stride(), m.col_stride()),
            (2, 3, 4, 1)
        );
        assert_eq!((m.at(1, 2), m.t().at(2, 1)), (6.0, 6.0));
        // Repeats are fine for reading: a row broadcast down 1000 rows of one slice.
        let r = MatRef::strided(&d[..3], 1000, 3, 0, 1);
        assert_eq!(r.at(999, 2), 2.0);
        // Any strides at all when there are no elements.
        let e = MatRef::strided(&d[..0], 0, usize::MAX, isize::MAX as usize, 7);
        assert_eq!((e.rows(), e.cols()), (0, usize::MAX));
        assert_eq!(MatRef::new(&d[..0], 5, 0).rows(), 5);
        // The last element exactly at the end.
        assert_eq!(MatRef::strided(&d, 2, 4, 3, 1).at(1, 3), 6.0);
        // Mutable views: rows apart, or columns apart (column-major), or one line.
        let mut w = [0.0f32; 12];
        let _ = MatMut::strided(&mut w, 3, 4, 4, 1);
        let _ = MatMut::strided(&mut w, 3, 4, 1, 3);
        let _ = MatMut::strided(&mut w, 1, 12, 99, 1);
        let c = MatMut::strided(&mut w, 12, 1, 1, 0);
        assert_eq!(
            (c.rows(), c.cols(), c.row_stride(), c.col_stride()),
            (12, 1, 1, 0)
        );
        let _ = MatMut::strided(&mut w[..0], 0, 5, 0, 0);
    }

    #[test]
    #[should_panic(expected = "overflows usize")]
    fn huge_strides_are_refused_not_wrapped() {
        // Before: `(rows - 1) * rs` wrapped to 0 and this view of one element passed gemm's
        // bounds check; the product then read 2^62 elements past it.
        let one = [1.0f32];
        let _ = MatRef::strided(&one, 5, 1, 1 << 62, 1);
    }

    #[test]
    fn view_spans_are_checked_without_wrapping() {
        // The old check, `(rows - 1) * rs + (cols - 1) * cs < len`, wrapped for these.
        assert_eq!(span(3, 1, 1 << 63, 1), None);
        assert_eq!(span(2, 2, usize::MAX, 1), None);
        assert_eq!(
            span(3, 0xAAAA_AAAA_AAAA_AAAB, 0xAAAA_AAAA_AAAA_AAAB, 1),
            None
        );
        assert_eq!(span(0, 5, usize::MAX, usize::MAX), Some(0));
        assert_eq!(span(3, 2, 3, 1), Some(8));
        assert_eq!(span(1, 1, usize::MAX, usize::MAX), Some(1));
    }

    #[test]
    #[should_panic(expected = "overflows usize")]
    fn row_major_size_overflow_is_refused() {
        // 0xAAAA_AAAA_AAAA_AAAB * 3 wraps to 1: the old `new` took one element for this.
        let one = [1.0f32];
        let _ = MatRef::new(&one, 0xAAAA_AAAA_AAAA_AAAB, 3);
    }

    #[test]
    #[should_panic(expected = "spans 8 elements, the slice has 7")]
    fn views_past_the_slice_are_refused() {
        let d = [0.0f32; 7];
        let _ = MatRef::strided(&d, 2, 4, 4, 1);
    }

    #[test]
    #[should_panic(expected = "spans 6 elements, the slice has 5")]
    fn short_mutable_views_are_refused() {
        let mut d = [0.0f32; 5];
        let _ = MatMut::new(&mut d, 2, 3);
    }

    #[test]
    #[should_panic(expected = "above isize::MAX")]
    fn strides_above_isize_max_are_refused() {
        // One row, so the stride is never used; still refused (gemm passes strides as isize).
        let d = [0.0f32; 4];
        let _ = MatRef::strided(&d, 1, 4, usize::MAX, 1);
    }

    #[test]
    fn mutable_views_with_overlapping_elements_are_refused() {
        let overlapping = [
            (2, 2, 0, 1),
            (2, 2, 1, 1),
            (3, 4, 3, 1),
            (1, 3, 5, 0),
            (3, 1, 0, 5),
            (3, 3, 2, 1),
            // Distinct elements (0, 3, 2, 5, 4, 7), but interleaved: refused as well.
            (3, 2, 2, 3),
        ];
        for (rows, cols, rs, cs) in overlapping {
            let r = std::panic::catch_unwind(|| {
                let mut w = [0.0f32; 64];
                let _ = MatMut::strided(&mut w, rows, cols, rs, cs);
            });
            assert!(r.is_err(), "{rows}x{cols} strides ({rs}, {cs}) accepted");
            // The same layouts are fine to read.
            let _ = MatRef::strided(&[0.0f32; 64], rows, cols, rs, cs);
        }
    }

    #[test]
    fn products_with_empty_inner_dimension_scale_or_clear_c() {
        // k = 0 through the fast path (alpha 1, beta 0 or 1), the packed path and the general
        // one, with A transposed (row stride 1 over an empty slice) and enough rows and columns
        // for several row tiles and panels.
        let (m, n) = (30, 70);
        let empty: [f32; 0] = [];
        let a = MatRef::new(&empty, 0, m).t();
        let b = MatRef::new(&empty, 0, n);
        let mut p = Packed::default();
        p.pack(b);
        for (alpha, beta) in [(1.0f32, 0.0f32), (1.0, 1.0), (2.0, 0.5), (1.0, 0.0)] {
            let c0: Vec<f32> = (0..m * n).map(|i| i as f32).collect();
            let want: Vec<f32> = c0.iter().map(|&v| beta * v).collect();
            let mut c = c0.clone();
            c[0] = if beta == 0.0 { f32::NAN } else { c[0] };
            gemm(alpha, a, b, beta, MatMut::new(&mut c, m, n));
            assert_eq!(c, want, "gemm alpha={alpha} beta={beta}");
            if alpha == 1.0 {
                let mut c = c0.clone();
                gemm_packed(a, &p, beta, MatMut::new(&mut c, m, n));
                assert_eq!(c, want, "gemm_packed beta={beta}");
            }
        }
    }

    #[test]
    fn gemm_beta_zero_ignores_nan() {
        let a = [1.0f32, 2.0];
        let b = [3.0f32, 4.0];
        let mut c = [f32::NAN];
        gemm(
            1.0,
            MatRef::new(&a, 1, 2),
            MatRef::new(&b, 2, 1),
            0.0,
            MatMut::new(&mut c, 1, 1),
        );
        assert_eq!(c[0], 11.0);
    }

    #[test]
    fn matvec_matches_naive_on_odd_depths_and_widths() {
        let mut s = 5u64;
        for &(k, n) in &[
            (1, 16),
            (2, 16),
            (3, 32),
            (32, 32),
            (33, 48),
            (4, 80),
            (4, 64),
            (7, 96),
            (5, 112),
            (9, 128),
            (17, 2048),
            (0, 16),
        ] {
            let x: Vec<f32> = (0..k).map(|_| lcg(&mut s) as f32).collect();
            let w: Vec<f32> = (0..k * n).map(|_| lcg(&mut s) as f32).collect();
            let y0: Vec<f32> = (0..n).map(|_| lcg(&mut s) as f32).collect();
            let mut y = y0.clone();
            matvec_acc(&x, &w, &mut y);
            let mut want = y0.clone();
            gemm_naive(
                1.0,
                MatRef::new(&x, 1, k),
                MatRef::new(&w, k, n),
                1.0,
                MatMut::new(&mut want, 1, n),
            );
            for (j, (a, b)) in y.iter().zip(&want).enumerate() {
                assert!((a - b).abs() < 1e-5, "{k}x{n} column {j}: {a} vs {b}");
            }
        }
    }

    #[test]
    fn sixteen_lane_reductions_match_scalar_loops() {
        // f32 takes the in-register versions where the target has AVX-512, f64 the generic.
        let mut s = 3u64;
        for _ in 0..200 {
            let a: [f32; 16] = std::array::from_fn(|_| (lcg(&mut s) as f32 + 1.0) * 0.5);
            let sum: f32 = a.iter().sum();
            assert!((f32::sum16(&a) - sum).abs() < 1e-5);
            assert_eq!(f32::max16(&a), a.iter().copied().fold(f32::MIN, f32::max));
            let r = (lcg(&mut s) as f32 + 1.0) * 0.5 * sum * 1.1;
            let mut acc = 0.0;
            let want = a.iter().position(|&v| {
                acc += v;
                acc > r
            });
            assert_eq!(f32::first_running_sum_above16(&a, r), want, "{a:?} {r}");
            let a64 = a.map(f64::from);
            assert_eq!(f64::first_running_sum_above16(&a64, r as f64), want);
        }
    }
}

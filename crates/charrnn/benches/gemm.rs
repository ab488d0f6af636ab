//! GEMM throughput (GFLOP/s, f32, one thread) at the shapes the models multiply, for each
//! kernel we could use: ours (`kernels::gemm`, no packing), `matrixmultiply`, and `gemm`.
//!
//! `cargo bench -p charrnn --bench gemm`
//!
//! Each row is `C[m x n] = A B`, with A row-major or transposed (`A^T`, for the weight
//! gradients), B row-major with unit column stride (the model keeps transposed copies of the
//! weights it multiplies on the right).

use std::hint::black_box;
use std::time::Instant;

use charrnn::kernels::{gemm, MatMut, MatRef};

struct Shape {
    what: &'static str,
    m: usize,
    k: usize,
    n: usize,
    /// A is stored as `[k, m]` and used transposed.
    at: bool,
}

const fn s(what: &'static str, m: usize, k: usize, n: usize, at: bool) -> Shape {
    Shape { what, m, k, n, at }
}

const SHAPES: &[Shape] = &[
    s("seed: h W_hh^T (B=4)", 4, 32, 32, false),
    s("seed: H W_hy^T", 128, 32, 65, false),
    s("seed: dO^T H", 65, 128, 32, true),
    s("rnn256: h W_hh^T (B=16)", 16, 256, 256, false),
    s("rnn256: X W_ih^T", 1024, 64, 256, false),
    s("rnn256: dA^T H", 256, 1024, 256, true),
    s("lstm2x128: h W_hh^T (B=25)", 25, 128, 512, false),
    s("lstm2x128: dA W_hh", 25, 512, 128, false),
    s("lstm2x512: h W_hh^T (B=25)", 25, 512, 2048, false),
    s("lstm2x512: dA W_hh (B=25)", 25, 2048, 512, false),
    s("lstm2x512: H W_ih^T (l1)", 2500, 512, 2048, false),
    s("lstm2x512: dA^T H", 2048, 2500, 512, true),
    s("lstm2x512: dA W_ih", 2500, 2048, 512, false),
    s("lstm2x512: H W_hy^T", 2500, 512, 65, false),
];

fn time(mut f: impl FnMut(), flops: f64) -> f64 {
    f();
    let mut reps = 1;
    loop {
        let t = Instant::now();
        for _ in 0..reps {
            f();
        }
        let dt = t.elapsed().as_secs_f64();
        if dt > 0.3 {
            return flops * reps as f64 / dt / 1e9;
        }
        reps *= 2;
    }
}

fn main() {
    println!(
        "{:<30} {:>5} {:>5} {:>5} {:>9} {:>15} {:>9}",
        "shape", "m", "k", "n", "ours", "matrixmultiply", "gemm"
    );
    for sh in SHAPES {
        let (m, k, n) = (sh.m, sh.k, sh.n);
        let a: Vec<f32> = (0..m * k)
            .map(|i| ((i * 7 % 13) as f32 - 6.0) * 0.01)
            .collect();
        let b: Vec<f32> = (0..k * n)
            .map(|i| ((i * 5 % 11) as f32 - 5.0) * 0.01)
            .collect();
        let mut c = vec![0.0f32; m * n];
        let flops = 2.0 * (m * k * n) as f64;
        let av = if sh.at {
            MatRef::new(&a, k, m).t()
        } else {
            MatRef::new(&a, m, k)
        };
        let ours = time(
            || {
                gemm(
                    1.0,
                    av,
                    MatRef::new(&b, k, n),
                    1.0,
                    MatMut::new(black_box(&mut c), m, n),
                )
            },
            flops,
        );
        let mm = time(
            || unsafe {
                matrixmultiply::sgemm(
                    m,
                    k,
                    n,
                    1.0,
                    a.as_ptr(),
                    av.row_stride() as isize,
                    av.col_stride() as isize,
                    b.as_ptr(),
                    n as isize,
                    1,
                    1.0,
                    black_box(c.as_mut_ptr()),
                    n as isize,
                    1,
                )
            },
            flops,
        );
        let gm = time(
            || unsafe {
                gemm::gemm(
                    m,
                    n,
                    k,
                    black_box(c.as_mut_ptr()),
                    1,
                    n as isize,
                    true,
                    a.as_ptr(),
                    av.col_stride() as isize,
                    av.row_stride() as isize,
                    b.as_ptr(),
                    1,
                    n as isize,
                    1.0f32,
                    1.0f32,
                    false,
                    false,
                    false,
                    gemm::Parallelism::None,
                )
            },
            flops,
        );
        println!(
            "{:<30} {:>5} {:>5} {:>5} {:>9.1} {:>15.1} {:>9.1}",
            sh.what, m, k, n, ours, mm, gm
        );
    }
}

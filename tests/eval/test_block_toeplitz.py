"""Block-Toeplitz solver: Levinson recursion against dense LU, FFT product against the dense matrix."""

from __future__ import annotations

import torch

from deconstruct.metrics import block_toeplitz


def gram_blocks(signals: torch.Tensor, lags: int) -> torch.Tensor:
    """First block row ``blocks[k][p, q] = sum_n x_p[n + k] x_q[n]`` of the Gram matrix of delayed signals."""
    samples = signals.shape[-1]
    rows = [signals[..., :, k:] @ signals[..., :, : samples - k].transpose(-2, -1) for k in range(lags)]
    return torch.stack(rows, dim=-3)


def test_dense_matrix_is_the_gram_matrix_of_delayed_signals():
    signals = torch.randn(2, 40, dtype=torch.float64)
    lags = 3
    delayed = torch.stack([torch.nn.functional.pad(signals, (a, lags - 1 - a)) for a in range(lags)])  # [a, p, n]
    expected = delayed.flatten(0, 1) @ delayed.flatten(0, 1).T  # rows (a, p)
    torch.testing.assert_close(block_toeplitz.dense(gram_blocks(signals, lags)), expected)


def test_levinson_solution_matches_dense_lu_batched():
    generator = torch.Generator().manual_seed(0)
    blocks = gram_blocks(torch.randn(2, 3, 400, generator=generator, dtype=torch.float64), 16)  # batch of 2
    rhs = torch.randn(2, 16, 3, 4, generator=generator, dtype=torch.float64)
    solution = block_toeplitz.solve(blocks, rhs)
    expected = torch.linalg.solve(block_toeplitz.dense(blocks), rhs.reshape(2, 48, 4)).reshape(rhs.shape)
    torch.testing.assert_close(solution, expected, rtol=1e-9, atol=1e-12)


def test_fft_product_matches_dense_product():
    blocks = gram_blocks(torch.randn(3, 200, dtype=torch.float64), 10)
    x = torch.randn(10, 3, 2, dtype=torch.float64)
    expected = (block_toeplitz.dense(blocks) @ x.reshape(30, 2)).reshape(x.shape)
    torch.testing.assert_close(block_toeplitz.matmul(blocks, x), expected)


def test_singular_system_still_gives_the_projection():
    signal = torch.randn(1, 300, dtype=torch.float64)
    channels = torch.cat([signal, signal])  # two identical channels: an exactly singular Gram matrix
    lags = 8
    delayed = torch.stack([torch.nn.functional.pad(channels, (a, lags - 1 - a)) for a in range(lags)]).flatten(0, 1)
    target = torch.randn(307, dtype=torch.float64)
    rhs = (delayed @ target).reshape(lags, 2, 1)  # correlations of the target with the delayed channels
    solution = block_toeplitz.solve(gram_blocks(channels, lags), rhs)
    assert torch.isfinite(solution).all()
    best = torch.linalg.lstsq(delayed.T, target[:, None], driver="gelsd").solution
    torch.testing.assert_close(delayed.T @ solution.reshape(-1, 1), delayed.T @ best, rtol=1e-6, atol=1e-8)

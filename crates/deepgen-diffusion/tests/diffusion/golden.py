"""Independent reference values for the deepgen-diffusion tests (numpy 2.x, float64).

Run: python3 golden.py  — prints the values pasted into the test modules.
Formulas follow diffusers (DDPMScheduler.step, DDIMScheduler.set_timesteps/step,
DPMSolverMultistepScheduler with algorithm_type="dpmsolver++", solver_order=2, midpoint,
final_sigmas_type="zero", betas_for_alpha_bar), improved-DDPM's get_named_beta_schedule,
lucidrains' sigmoid_beta_schedule, DDIM's quadratic skip, Hang et al.'s min-SNR weights and
the Analytic-DPM authors' reverse_ddpm_ms_eps / reverse_ddim_ms_eps.
"""
import math
import numpy as np

np.set_printoptions(precision=17)


def p(name, v):
    if isinstance(v, (list, tuple, np.ndarray)):
        print(f"{name} = [{', '.join(repr(float(x)) for x in np.ravel(v))}]")
    else:
        print(f"{name} = {float(v)!r}")


# --- schedules --------------------------------------------------------------------------
def linear_betas(T):  # improved-DDPM get_named_beta_schedule("linear")
    scale = 1000 / T
    return np.linspace(scale * 0.0001, scale * 0.02, T, dtype=np.float64)


def betas_for_alpha_bar(T, max_beta=0.999):  # diffusers, alpha_transform_type="cosine"
    def alpha_bar_fn(t):
        return math.cos((t + 0.008) / 1.008 * math.pi / 2) ** 2
    betas = []
    for i in range(T):
        t1 = i / T
        t2 = (i + 1) / T
        betas.append(min(1 - alpha_bar_fn(t2) / alpha_bar_fn(t1), max_beta))
    return np.array(betas, dtype=np.float64)


def sigmoid_betas(T, start=-3, end=3, tau=1):  # lucidrains, in numpy float64
    steps = T + 1
    t = np.linspace(0, T, steps, dtype=np.float64) / T
    sig = lambda x: 1 / (1 + np.exp(-x))
    v_start = sig(start / tau)
    v_end = sig(end / tau)
    ac = (-sig((t * (end - start) + start) / tau) + v_end) / (v_end - v_start)
    ac = ac / ac[0]
    betas = 1 - (ac[1:] / ac[:-1])
    return np.clip(betas, 0, 0.999)


lin = linear_betas(1000)
ac_lin = np.cumprod(1 - lin)
print("# linear T=1000")
p("LIN_BETA_0_500_999", [lin[0], lin[500], lin[999]])
p("LIN_AB_0_499_999", [ac_lin[0], ac_lin[499], ac_lin[999]])
lin100 = linear_betas(100)
p("LIN100_BETA_0_99", [lin100[0], lin100[99]])
p("LIN100_AB_99", np.cumprod(1 - lin100)[99])

cos = betas_for_alpha_bar(1000)
ac_cos = np.cumprod(1 - cos)
COS_T = [0, 1, 10, 100, 250, 500, 750, 900, 998, 999]
print("# cosine T=1000 at", COS_T)
p("COS_AB", ac_cos[COS_T])
p("COS_BETA_0_999", [cos[0], cos[999]])

sg = sigmoid_betas(1000)
ac_sg = np.cumprod(1 - sg)
print("# sigmoid T=1000")
p("SIG_BETA_0_500_999", [sg[0], sg[500], sg[999]])
p("SIG_AB_0_500_998", [ac_sg[0], ac_sg[500], ac_sg[998]])

# posterior tables (improved-DDPM GaussianDiffusion.__init__)
ac_prev = np.append(1.0, ac_lin[:-1])
post_var = lin * (1.0 - ac_prev) / (1.0 - ac_lin)
post_log = np.log(np.append(post_var[1], post_var[1:]))
c1 = lin * np.sqrt(ac_prev) / (1.0 - ac_lin)
c2 = (1.0 - ac_prev) * np.sqrt(1 - lin) / (1.0 - ac_lin)
PT = [0, 1, 500, 999]
print("# linear T=1000 posterior at", PT)
p("POST_VAR", post_var[PT])
p("POST_LOGVAR", post_log[PT])
p("POST_C1", c1[PT])
p("POST_C2", c2[PT])

# --- timesteps (diffusers DDIMScheduler.set_timesteps; DDIM quadratic) -------------------
def ddim_timesteps(T, n, spacing, steps_offset=0):
    if spacing == "linspace":
        ts = np.linspace(0, T - 1, n).round()[::-1].copy().astype(np.int64)
    elif spacing == "leading":
        r = T // n
        ts = (np.arange(0, n) * r).round()[::-1].copy().astype(np.int64)
        ts += steps_offset
    elif spacing == "trailing":
        r = T / n
        ts = np.round(np.arange(T, 0, -r)).astype(np.int64)
        ts -= 1
    elif spacing == "quadratic":  # ermongroup/ddim runners/diffusion.py, skip_type="quad"
        seq = (np.linspace(0, np.sqrt(T * 0.8), n) ** 2)
        ts = np.array(sorted([int(s) for s in list(seq)], reverse=True))
    return [int(x) for x in ts]


print("# timesteps")
for T, n in [(1000, 10), (1000, 7), (1000, 50), (100, 30), (1000, 1)]:
    for sp in ["linspace", "leading", "trailing", "quadratic"]:
        print(f"TS_{sp.upper()}_{T}_{n} = {ddim_timesteps(T, n, sp)}")
print("TS_LEADING_1000_10_OFFSET1 =", ddim_timesteps(1000, 10, "leading", 1))

# --- one DDPM and DDIM step (diffusers formulas) ----------------------------------------
x = np.array([0.5, -1.2, 0.3, 2.0, -0.7, 0.05])
out = np.array([0.1, -0.4, 1.3, -0.2, 0.6, -1.1])
z = np.array([-0.3, 0.8, 0.2, -1.5, 0.4, 1.0])


def pred_x0_eps(kind, out, x, ab):
    if kind == "epsilon":
        x0 = (x - (1 - ab) ** 0.5 * out) / ab ** 0.5
        eps = out
    elif kind == "sample":
        x0 = out
        eps = (x - ab ** 0.5 * x0) / (1 - ab) ** 0.5
    else:  # v_prediction
        x0 = ab ** 0.5 * x - (1 - ab) ** 0.5 * out
        eps = ab ** 0.5 * out + (1 - ab) ** 0.5 * x
    return x0, eps


def ddpm_step(t, prev_t, kind, var_type, clip=None):
    a_t = ac_lin[t]
    a_prev = ac_lin[prev_t] if prev_t >= 0 else 1.0
    b_t, b_prev = 1 - a_t, 1 - a_prev
    cur_a = a_t / a_prev
    cur_b = 1 - cur_a
    x0, _ = pred_x0_eps(kind, out, x, a_t)
    if clip is not None:
        x0 = np.clip(x0, -clip, clip)
    c0 = a_prev ** 0.5 * cur_b / b_t
    ct = cur_a ** 0.5 * b_prev / b_t
    prev = c0 * x0 + ct * x
    if prev_t >= 0:
        var = (1 - a_prev) / (1 - a_t) * cur_b if var_type == "fixed_small" else cur_b
        prev = prev + var ** 0.5 * z
    return prev, x0


print("# DDPM step, linear T=1000, leading n=10, step index 3 (t=600 -> 500)")
p("DDPM_SMALL_EPS", ddpm_step(600, 500, "epsilon", "fixed_small")[0])
p("DDPM_LARGE_EPS", ddpm_step(600, 500, "epsilon", "fixed_large")[0])
p("DDPM_SMALL_V", ddpm_step(600, 500, "v_prediction", "fixed_small")[0])
p("DDPM_SMALL_SAMPLE_CLIP", ddpm_step(600, 500, "sample", "fixed_small", clip=1.0)[0])
p("DDPM_LAST_EPS", ddpm_step(0, -1, "epsilon", "fixed_small")[0])


def ddim_step(t, prev_t, kind, eta, clip=None, final_ab=1.0):
    a_t = ac_lin[t]
    a_prev = ac_lin[prev_t] if prev_t >= 0 else final_ab
    b_t = 1 - a_t
    b_prev = 1 - a_prev
    x0, eps = pred_x0_eps(kind, out, x, a_t)
    if clip is not None:
        x0 = np.clip(x0, -clip, clip)
        eps = (x - a_t ** 0.5 * x0) / b_t ** 0.5
    var = (b_prev / b_t) * (1 - a_t / a_prev)
    std = eta * var ** 0.5
    direction = (1 - a_prev - std ** 2) ** 0.5 * eps
    prev = a_prev ** 0.5 * x0 + direction
    if eta > 0:
        prev = prev + std * z
    return prev


print("# DDIM step, linear T=1000, leading n=10, step index 3 (t=600 -> 500)")
p("DDIM_ETA0_EPS", ddim_step(600, 500, "epsilon", 0.0))
p("DDIM_ETA05_EPS", ddim_step(600, 500, "epsilon", 0.5))
p("DDIM_ETA1_V", ddim_step(600, 500, "v_prediction", 1.0))
p("DDIM_ETA0_EPS_CLIP", ddim_step(600, 500, "epsilon", 0.0, clip=1.0))
p("DDIM_LAST_NOT_ONE", ddim_step(0, -1, "epsilon", 0.0, final_ab=ac_lin[0]))

# --- DPM-Solver++(2M), diffusers formulas, on the full trajectory -----------------------
def dpm_run(ts, model, x):
    def a_s(t):
        return ac_lin[t] ** 0.5, (1 - ac_lin[t]) ** 0.5
    outs = []
    n = len(ts)
    for i, t in enumerate(ts):
        alpha_s0, sigma_s0 = a_s(t)
        x0 = (x - sigma_s0 * model(x, t)) / alpha_s0  # convert_model_output, epsilon
        outs.append(x0)
        if i == n - 1:  # final_sigmas_type="zero": sigma_t = 0, alpha_t = 1, first order
            x = x0  # (sigma_t/sigma_s)*x - alpha_t*(exp(-inf)-1)*x0 = x0
            continue
        alpha_t, sigma_t = a_s(ts[i + 1])
        lam_t = np.log(alpha_t) - np.log(sigma_t)
        lam_s0 = np.log(alpha_s0) - np.log(sigma_s0)
        h = lam_t - lam_s0
        if i == 0:
            x = (sigma_t / sigma_s0) * x - (alpha_t * (np.exp(-h) - 1.0)) * x0
        else:
            alpha_s1, sigma_s1 = a_s(ts[i - 1])
            lam_s1 = np.log(alpha_s1) - np.log(sigma_s1)
            m0, m1 = outs[-1], outs[-2]
            h_0 = lam_s0 - lam_s1
            r0 = h_0 / h
            D0, D1 = m0, (1.0 / r0) * (m0 - m1)
            x = ((sigma_t / sigma_s0) * x - (alpha_t * (np.exp(-h) - 1.0)) * D0
                 - 0.5 * (alpha_t * (np.exp(-h) - 1.0)) * D1)
    return x


def toy_eps(x, t):  # a fixed nonlinear "model": eps = tanh(x) * (0.5 + t/1000)
    return np.tanh(x) * (0.5 + t / 1000)


ts = ddim_timesteps(1000, 5, "linspace")
print("# DPM-Solver++(2M), linear T=1000, linspace n=5:", ts)
p("DPM_TOY_FINAL", dpm_run(ts, toy_eps, x.copy()))
ts = ddim_timesteps(1000, 20, "trailing")
p("DPM_TOY_FINAL_TRAILING20", dpm_run(ts, toy_eps, x.copy()))

# --- targets and min-SNR weights -----------------------------------------------------------
snr = ac_lin / (1 - ac_lin)
WT = [0, 100, 500, 999]
g = 5.0
print("# min-SNR-5 weights, linear T=1000 at", WT)
p("MINSNR_EPS", np.minimum(snr[WT], g) / snr[WT])
p("MINSNR_X0", np.minimum(snr[WT], g))
p("MINSNR_V", np.minimum(snr[WT], g) / (snr[WT] + 1))
x0 = np.array([[0.5, -1.0], [0.25, 0.75], [-0.3, 0.9]])
eps = np.array([[0.1, 0.2], [-1.5, 0.3], [0.7, -0.4]])
tv = [10, 500, 990]
a = np.sqrt(ac_lin[tv])[:, None]
s = np.sqrt(1 - ac_lin[tv])[:, None]
print("# v = sqrt(ab) eps - sqrt(1-ab) x0 and x_t, linear T=1000, t =", tv)
p("V_TARGET", a * eps - s * x0)
p("X_T", a * x0 + s * eps)

# --- Analytic-DPM (the authors' reverse_ddpm_ms_eps / reverse_ddim_ms_eps variances) ------
betas_ = np.append(0.0, lin)  # their betas[0] = 0, 1-indexed time
alphas_ = 1.0 - betas_
cum_alphas = alphas_.cumprod()
cum_betas = 1.0 - cum_alphas
ts = ddim_timesteps(1000, 10, "leading")  # [900, ..., 0]
ns = sorted(t + 1 for t in ts)
gamma_by_r = {r: 0.2 + 0.07 * k for k, r in enumerate(ns)}  # an arbitrary Gamma per kept step


def analytic(eta, ddpm):
    out_ = {}
    for s_, r in list(zip([0] + ns, ns))[::-1]:
        skip_alpha = alphas_[s_ + 1: r + 1].prod()
        skip_beta = 1.0 - skip_alpha
        cas, car, cbs, cbr = cum_alphas[s_], cum_alphas[r], cum_betas[s_], cum_betas[r]
        if s_ == 0:
            out_[r] = 0.0
            continue
        sigma2_small = skip_beta * cbs / cbr
        cov = np.clip(cbr / car * (1.0 - gamma_by_r[r]), 0.0, 1.0)
        if ddpm:
            sigma2 = sigma2_small + cas * skip_beta ** 2 / cbr ** 2 * cov
        else:
            lamb2 = eta ** 2 * sigma2_small
            coeff = (cas ** 0.5 - ((cbs - lamb2) * car / cbr) ** 0.5) ** 2
            sigma2 = lamb2 + coeff * cov
        if s_ < ns[1]:
            thr = (2 * 2.0 / 255.0 * (math.pi / 2.0) ** 0.5) ** 2
            sigma2 = np.clip(sigma2, 0.0, thr)
        out_[r] = float(sigma2)
    return [out_[t + 1] for t in ts]  # in our step order (descending timesteps)


print("# Analytic-DPM variances, linear T=1000, leading n=10, Gamma[r] = 0.2 + 0.07 k")
p("GAMMA", [gamma_by_r[t + 1] for t in ts])
p("ANALYTIC_DDPM", analytic(1.0, True))
p("ANALYTIC_DDIM_ETA0", analytic(0.0, False))
p("ANALYTIC_DDIM_ETA05", analytic(0.5, False))

# --- dynamic thresholding (diffusers _threshold_sample; torch.quantile = numpy "linear") ---
xs = np.array([[0.2, -0.5, 0.9, 0.95, -0.1],
               [1.2, -1.3, 0.4, 1.35, -0.8],
               [3.0, -2.0, 2.6, 0.5, -4.0]])
q = np.quantile(np.abs(xs), 0.8, axis=1)
sv = np.clip(q, 1.0, 1.5)[:, None]
print("# dynamic thresholding, ratio 0.8, max 1.5: quantiles", q)
p("THRESHOLDED", np.clip(xs, -sv, sv) / sv)

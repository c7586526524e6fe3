"""PyTorch twins of the kit's benchmark models, written for `lightvit bench` (issue 15).

Each twin is built from the kit's own resolved config (JSON, handed over by the bench), so the two sides run the same
architecture: same blocks, widths, heads, expert counts, dropout and stochastic-depth rates, and the same number of
trainable parameters (the runner refuses to time a twin whose count differs from the kit's). Tensors use PyTorch's
own conventions (NCHW images, Conv2d patch projections where the kit uses a Linear over flattened patches: the same
parameter count and work). BatchNorm running statistics are buffers here and non-trainable in the kit: neither side
counts them.

Families (the kit's model classes):
  VisionTransformer  bench-vit and any plain pre-norm ViT (mean or class-token pooling)
  Mlit               mLiT (arXiv 2407.17783): GQA, noisy top-k router, SwiGLU experts with V/W2 shared per layer,
                     the author's LN-then-residual block order, class token appended last, load-balancing loss
  MobileVmoe         Mobile V-MoE (arXiv 2309.04354): dense ViT blocks, one per-image router, MoE blocks whose
                     experts each run only on the images routed to them
  LocalVisionNet     DWNet (arXiv 2106.04263) with depth-wise conv blocks ('dw'): 1x1-BN-ReLU-dw-BN-ReLU-1x1-BN,
                     BN + MLP, patch merging between stages
  Eit                EIT (arXiv 2203.07116): conv + max-pool patch projection, per-block split of channels between
                     a 3x3 depth-wise conv and multi-head attention, class token, no position embedding
  MaeVit             the plain ViT of arXiv 2402.03752 (class patch appended last, position table N(0, 1))
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F


class UnsupportedConfig(ValueError):
    pass


def drop_path(x, rate, training):
    """Stochastic depth: drop whole samples of the residual branch, rescale the kept ones."""
    if rate <= 0 or not training:
        return x
    keep = 1.0 - rate
    mask = x.new_empty((x.shape[0],) + (1,) * (x.dim() - 1)).bernoulli_(keep)
    return x * mask / keep


def activation(name):
    if name == "gelu":
        return F.gelu
    if name == "gelu-sigmoid":
        return lambda t: t * torch.sigmoid(1.702 * t)
    if name == "relu":
        return F.relu
    if name == "silu":
        return F.silu
    raise UnsupportedConfig(f"activation '{name}': the twins know gelu, gelu-sigmoid, relu, silu")


def linspace_rate(rate, n, i):
    return rate * i / (n - 1) if n > 1 else 0.0


class Mlp(nn.Module):
    def __init__(self, dim, hidden, bias=True, act="gelu", drop=0.0):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden, bias=bias)
        self.fc2 = nn.Linear(hidden, dim, bias=bias)
        self.act = activation(act)
        self.drop = drop

    def forward(self, x):
        h = F.dropout(self.act(self.fc1(x)), self.drop, self.training)
        return F.dropout(self.fc2(h), self.drop, self.training)


class Attention(nn.Module):
    """Multi-head self-attention, fused qkv projection."""

    def __init__(self, dim, heads, qkv_bias=True, proj_bias=True, attn_drop=0.0, proj_drop=0.0):
        super().__init__()
        if dim % heads:
            raise UnsupportedConfig(f"attention width {dim} is not divisible by {heads} heads")
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim, bias=proj_bias)
        self.attn_drop = attn_drop
        self.proj_drop = proj_drop

    def forward(self, x):
        b, t, c = x.shape
        q, k, v = self.qkv(x).reshape(b, t, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        a = torch.softmax(q @ k.transpose(-1, -2) * (c // self.heads) ** -0.5, -1)
        a = F.dropout(a, self.attn_drop, self.training)
        o = (a @ v).transpose(1, 2).reshape(b, t, c)
        return F.dropout(self.proj(o), self.proj_drop, self.training)


class VitBlock(nn.Module):
    """Pre-norm Transformer block: x + DropPath(Attn(LN(x))), then x + DropPath(MLP(LN(x)))."""

    def __init__(self, dim, heads, hidden, bias, act, eps, drop, attn_drop, dpr):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=eps)
        self.attn = Attention(dim, heads, bias, bias, attn_drop, drop)
        self.norm2 = nn.LayerNorm(dim, eps=eps)
        self.mlp = Mlp(dim, hidden, bias, act, drop)
        self.dpr = dpr

    def forward(self, x):
        x = x + drop_path(self.attn(self.norm1(x)), self.dpr, self.training)
        return x + drop_path(self.mlp(self.norm2(x)), self.dpr, self.training)


class VitTokens(nn.Module):
    """Patch projection (a Conv2d of kernel = stride = patch), class token first when pooling on it, learned positions."""

    def __init__(self, c):
        super().__init__()
        if c["posEmbed"] not in ("learned", "none"):
            raise UnsupportedConfig(f"posEmbed '{c['posEmbed']}': the twins know learned and none")
        d, p = c["embedDim"], c["patchSize"]
        n = (c["imageSize"] // p) ** 2
        self.patch_embed = nn.Conv2d(c["inChannels"], d, p, stride=p, bias=c["bias"])
        self.cls_token = nn.Parameter(torch.zeros(1, 1, d)) if c["pool"] == "cls" else None
        tokens = n + (1 if self.cls_token is not None else 0)
        self.pos_embed = nn.Parameter(torch.randn(1, tokens, d) * 0.02) if c["posEmbed"] == "learned" else None
        self.drop = c.get("dropout", 0.0)

    def forward(self, x):
        t = self.patch_embed(x).flatten(2).transpose(1, 2)
        if self.cls_token is not None:
            t = torch.cat([self.cls_token.expand(t.shape[0], -1, -1), t], 1)
        if self.pos_embed is not None:
            t = t + self.pos_embed
        return F.dropout(t, self.drop, self.training)


def vit_blocks(c, count, offset=0, total=None):
    total = total if total is not None else count
    hidden = round(c["mlpRatio"] * c["embedDim"])
    return [
        VitBlock(c["embedDim"], c["numHeads"], hidden, c["bias"], c["activation"], c["layerNormEps"], c["dropout"],
                 c["attnDropout"], linspace_rate(c["dropPath"], total, offset + i))
        for i in range(count)
    ]


class VisionTransformer(nn.Module):
    def __init__(self, c, extra):
        super().__init__()
        self.tokens = VitTokens(c)
        self.blocks = nn.Sequential(*vit_blocks(c, c["depth"]))
        self.norm = nn.LayerNorm(c["embedDim"], eps=c["layerNormEps"]) if c["finalNorm"] else nn.Identity()
        self.head = nn.Linear(c["embedDim"], c["numClasses"], bias=c["bias"])
        self.pool = c["pool"]

    def forward(self, x):
        t = self.norm(self.blocks(self.tokens(x)))
        return self.head(t[:, 0] if self.pool == "cls" else t.mean(1)), None


# --------------------------------------------------------------------------------------------- mLiT (2407.17783)


class GroupedQueryAttention(nn.Module):
    """`heads` query heads share `groups` key/value heads (group-major head order), bias-free, output dropout."""

    def __init__(self, dim, heads, groups, drop):
        super().__init__()
        self.h, self.g, self.d = heads, groups, dim // heads
        self.q = nn.Linear(dim, dim, bias=False)
        self.k = nn.Linear(dim, groups * self.d, bias=False)
        self.v = nn.Linear(dim, groups * self.d, bias=False)
        self.proj = nn.Linear(dim, dim, bias=False)
        self.drop = drop

    def forward(self, x):
        b, t, c = x.shape
        r = self.h // self.g
        q = self.q(x).reshape(b, t, self.g, r, self.d).permute(0, 2, 3, 1, 4)  # [B, G, r, T, d]
        k = self.k(x).reshape(b, t, self.g, 1, self.d).permute(0, 2, 3, 1, 4)  # [B, G, 1, T, d]
        v = self.v(x).reshape(b, t, self.g, 1, self.d).permute(0, 2, 3, 1, 4)
        a = torch.softmax(q @ k.transpose(-1, -2) * self.d ** -0.5, -1)
        o = (a @ v).permute(0, 3, 1, 2, 4).reshape(b, t, c)
        return F.dropout(self.proj(o), self.drop, self.training)


def cv_squared(v):
    return v.var() / (v.mean() ** 2 + 1e-10) if v.numel() > 1 else v.new_zeros(())


class SwiGluMoe(nn.Module):
    """Noisy top-k router (Shazeer et al. 2017) over SwiGLU experts SiLU(x W_e + b_e) * (x V + b_V), shared W2."""

    def __init__(self, dim, hidden, experts, top_k, noise, balance, drop):
        super().__init__()
        if top_k > experts:
            raise UnsupportedConfig(f"topK={top_k} > {experts} experts")
        self.e, self.k, self.h = experts, top_k, hidden
        self.w_gate = nn.Parameter(torch.randn(dim, experts))
        self.w_noise = nn.Parameter(torch.randn(dim, experts))
        self.w = nn.Linear(dim, experts * hidden)  # the private W_e side by side
        self.v = nn.Linear(dim, hidden)
        self.w2 = nn.Linear(hidden, dim)
        self.noise, self.balance, self.drop = noise, balance, drop

    def forward(self, x):
        b, t, m = x.shape
        x2 = x.reshape(b * t, m)
        clean = x2 @ self.w_gate
        logits, sigma = clean, None
        if self.training and self.noise:
            sigma = F.softplus(x2 @ self.w_noise) + 0.01
            logits = clean + torch.randn_like(clean) * sigma
        kk = min(self.k + 1, self.e)
        top_vals, top_idx = logits.topk(kk, dim=1)
        gates_k = torch.softmax(top_vals[:, : self.k], 1)
        idx = top_idx[:, : self.k]
        hid = (F.silu(self.w(x2)).reshape(-1, self.e, self.h) * self.v(x2).unsqueeze(1))  # [N, E, h]
        chosen = hid.gather(1, idx.unsqueeze(2).expand(-1, -1, self.h))  # [N, k, h]
        out = F.dropout(self.w2(chosen), self.drop, self.training)  # per-slot expert outputs [N, k, m]
        y = (out * gates_k.unsqueeze(2)).sum(1)
        aux = None
        if self.training:
            gates = torch.zeros_like(logits).scatter(1, idx, gates_k)
            in_top = torch.zeros_like(logits).scatter(1, idx, 1.0)
            if sigma is not None and self.k < self.e:
                p_in = torch.distributions.Normal(0.0, 1.0).cdf((clean - top_vals[:, self.k:self.k + 1]) / sigma)
                p_out = torch.distributions.Normal(0.0, 1.0).cdf((clean - top_vals[:, self.k - 1:self.k]) / sigma)
                load = (in_top * p_in + (1 - in_top) * p_out).sum(0)
            else:
                load = in_top.sum(0)
            aux = (cv_squared(gates.sum(0)) + cv_squared(load)) * self.balance
        return y.reshape(b, t, m), aux


class MlitBlock(nn.Module):
    def __init__(self, c, hidden, experts):
        super().__init__()
        d = c["embedDim"]
        self.norm1 = nn.LayerNorm(d, eps=c["layerNormEps"])
        self.attn = GroupedQueryAttention(d, c["numHeads"], c["kvGroups"], c["dropout"])
        self.norm2 = nn.LayerNorm(d, eps=c["layerNormEps"])
        self.moe = SwiGluMoe(d, hidden, experts, c["topK"], c["routerNoise"], c["balanceCoef"], c["dropout"])
        self.pre_norm = c["blockOrder"] == "pre-norm"

    def forward(self, x):
        if self.pre_norm:
            h = x + self.attn(self.norm1(x))
        else:  # the author's order: the residual restarts from the normalised tensor
            xn = self.norm1(x)
            h = xn + self.attn(xn)
        y, aux = self.moe(self.norm2(h))
        return h + y, aux


def chw_patches(x, p):
    """[B, C, H, W] → [B, N, C·p·p], channel-major inside a patch (the 'chw' order)."""
    b, ch, hh, ww = x.shape
    return x.reshape(b, ch, hh // p, p, ww // p, p).permute(0, 2, 4, 1, 3, 5).reshape(b, -1, ch * p * p)


class Mlit(nn.Module):
    def __init__(self, c, extra):
        super().__init__()
        if c.get("maeExtras"):
            raise UnsupportedConfig("maeExtras (MAE pre-training heads) are not part of the twin")
        if not c["shareVW2"]:
            raise UnsupportedConfig("shareVW2=false: the twin implements the paper's shared V/W2 only")
        d, p = c["embedDim"], c["patchSize"]
        self.p = p
        n = (c["imageSize"] // p) ** 2
        self.patch_embed = nn.Linear(c["inChannels"] * p * p, d, bias=False)
        self.pos_embed = nn.Parameter(torch.randn(n + 1, d))  # row n: the class token, appended last
        self.blocks = nn.ModuleList(MlitBlock(c, h, e) for h, e in zip(extra["hiddenSizes"], extra["expertCounts"]))
        self.norm = nn.LayerNorm(d, eps=c["layerNormEps"])
        self.head = nn.Linear(d, c["numClasses"])
        self.head_drop, self.aux_weight = c["headDropout"], c["auxWeight"]

    def forward(self, x):
        t = self.patch_embed(chw_patches(x, self.p)) + self.pos_embed[:-1]
        t = torch.cat([t, self.pos_embed[-1:].expand(t.shape[0], 1, -1)], 1)
        aux = None
        for blk in self.blocks:
            t, a = blk(t)
            if a is not None:
                aux = a if aux is None else aux + a
        logits = self.head(F.dropout(self.norm(t)[:, -1], self.head_drop, self.training))
        return logits, (aux * self.aux_weight if aux is not None and self.aux_weight > 0 else None)


# ------------------------------------------------------------------------------------- Mobile V-MoE (2309.04354)


class ImageMoeBlock(nn.Module):
    """Pre-norm block whose MLP is one of E experts chosen per image; each expert runs on its images only."""

    def __init__(self, c, dpr):
        super().__init__()
        d = c["embedDim"]
        hidden = round(c["mlpRatio"] * d)
        self.norm1 = nn.LayerNorm(d, eps=c["layerNormEps"])
        self.attn = Attention(d, c["numHeads"], c["bias"], c["bias"], c["attnDropout"], c["dropout"])
        self.norm2 = nn.LayerNorm(d, eps=c["layerNormEps"])
        self.experts = nn.ModuleList(Mlp(d, hidden, c["bias"], c["activation"], c["dropout"])
                                     for _ in range(c["numExperts"]))
        self.dpr = dpr

    def forward(self, x, idx, gates):
        x = x + drop_path(self.attn(self.norm1(x)), self.dpr, self.training)
        h = self.norm2(x)
        y = torch.zeros_like(h)
        for e, expert in enumerate(self.experts):
            rows, slot = (idx == e).nonzero(as_tuple=True)
            if rows.numel() == 0:
                continue
            out = expert(h.index_select(0, rows)) * gates[rows, e].reshape(-1, 1, 1)
            y = y.index_add(0, rows, out)
        return x + drop_path(y, self.dpr, self.training)


class MobileVmoe(nn.Module):
    def __init__(self, c, extra):
        super().__init__()
        if c["routing"] == "token":
            raise UnsupportedConfig("routing='token' (per-token V-MoE baseline) has no twin; per-image routings do")
        if c["routing"] == "e2e-image" and c["balanceWeight"] > 0:
            raise UnsupportedConfig("routing='e2e-image' with balancing losses has no twin")
        self.tokens = VitTokens(c)
        n_dense = c["depth"] - c["moeLayers"]
        self.blocks = nn.Sequential(*vit_blocks(c, n_dense, 0, c["depth"]))
        self.router = nn.Linear(c["embedDim"], c["numExperts"], bias=c["bias"])
        self.moe_blocks = nn.ModuleList(
            ImageMoeBlock(c, linspace_rate(c["dropPath"], c["depth"], n_dense + j)) for j in range(c["moeLayers"]))
        self.norm = nn.LayerNorm(c["embedDim"], eps=c["layerNormEps"]) if c["finalNorm"] else nn.Identity()
        self.head = nn.Linear(c["embedDim"], c["numClasses"], bias=c["bias"])
        self.k, self.noise, self.normalise = c["topK"], c["routerNoise"], c["gateNormalise"]
        self.router_cls, self.pool = c["routerInput"] == "cls", c["pool"]

    def forward(self, x):
        t = self.blocks(self.tokens(x))
        logits = self.router(t[:, 0] if self.router_cls else t[:, 1:].mean(1))
        noisy = logits + torch.randn_like(logits) * self.noise if self.training and self.noise > 0 else logits
        probs = torch.softmax(noisy, 1)
        idx = probs.topk(self.k, 1).indices
        gates = probs * torch.zeros_like(probs).scatter(1, idx, 1.0)
        if self.normalise == "topk":
            gates = gates / gates.sum(1, keepdim=True)
        for blk in self.moe_blocks:
            t = blk(t, idx, gates)
        t = self.norm(t)
        # the bench's batches carry no super-class labels, so (as in the kit's step) no router loss is added
        return self.head(t[:, 0] if self.pool == "cls" else t.mean(1)), None


# ------------------------------------------------------------------------------------------- DWNet (2106.04263)


class ChannelsLastNorm(nn.LayerNorm):
    def forward(self, x):  # x: [B, C, H, W]
        return super().forward(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


class DwSpatialBlock(nn.Module):
    """x + DropPath(BN(1x1(ReLU(BN(dw(ReLU(BN(1x1(x))))))))), then x + DropPath(MLP(BN(x)))."""

    def __init__(self, dim, k, hidden, drop, dpr):
        super().__init__()
        self.conv0 = nn.Conv2d(dim, dim, 1, bias=False)
        self.bn0 = nn.BatchNorm2d(dim)
        self.conv = nn.Conv2d(dim, dim, k, padding=k // 2, groups=dim, bias=True)
        self.bn = nn.BatchNorm2d(dim)
        self.conv2 = nn.Conv2d(dim, dim, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(dim)
        self.norm = nn.BatchNorm2d(dim)
        self.fc1 = nn.Conv2d(dim, hidden, 1)
        self.fc2 = nn.Conv2d(hidden, dim, 1)
        self.drop, self.dpr = drop, dpr

    def forward(self, x):
        y = F.relu(self.bn0(self.conv0(x)))
        y = self.bn2(self.conv2(F.relu(self.bn(self.conv(y)))))
        x = x + drop_path(y, self.dpr, self.training)
        m = F.dropout(F.gelu(self.fc1(self.norm(x))), self.drop, self.training)
        return x + drop_path(F.dropout(self.fc2(m), self.drop, self.training), self.dpr, self.training)


class PatchMerging(nn.Module):
    def __init__(self, dim, eps):
        super().__init__()
        self.norm = nn.LayerNorm(4 * dim, eps=eps)
        self.reduction = nn.Linear(4 * dim, 2 * dim, bias=False)

    def forward(self, x):  # [B, C, H, W] → [B, 2C, H/2, W/2]
        t = x.permute(0, 2, 3, 1)
        t = torch.cat([t[:, 0::2, 0::2], t[:, 1::2, 0::2], t[:, 0::2, 1::2], t[:, 1::2, 1::2]], -1)
        return self.reduction(self.norm(t)).permute(0, 3, 1, 2)


class LocalVisionNet(nn.Module):
    def __init__(self, c, extra):
        super().__init__()
        if c["block"] != "dw" or c["dwSharing"] != "none" or c["se"]:
            raise UnsupportedConfig(f"DWNet block='{c['block']}', dwSharing='{c['dwSharing']}', se={c['se']}: "
                                    "the twin implements block='dw', dwSharing='none', se=false")
        d, p, eps = c["embedDim"], c["patchSize"], c["layerNormEps"]
        self.patch_embed = nn.Conv2d(c["inChannels"], d, p, stride=p)
        self.patch_norm = ChannelsLastNorm(d, eps=eps) if c["patchNorm"] else nn.Identity()
        total = sum(c["depths"])
        layers, i = [], 0
        for s, n in enumerate(c["depths"]):
            for _ in range(n):
                layers.append(DwSpatialBlock(d, c["kernelSize"], round(c["mlpRatio"] * d), c["dropout"],
                                             linspace_rate(c["dropPath"], total, i)))
                i += 1
            if s < len(c["depths"]) - 1:
                layers.append(PatchMerging(d, eps))
                d *= 2
        self.layers = nn.Sequential(*layers)
        self.norm = nn.LayerNorm(d, eps=eps)
        self.head = nn.Linear(d, c["numClasses"])
        self.drop = c["dropout"]

    def forward(self, x):
        t = F.dropout(self.patch_norm(self.patch_embed(x)), self.drop, self.training)
        t = self.layers(t)
        return self.head(self.norm(t.permute(0, 2, 3, 1)).mean((1, 2))), None


# --------------------------------------------------------------------------------------------- EIT (2203.07116)


class EitBlock(nn.Module):
    """LN, then the first `conv` channels through a 3x3 depth-wise conv on the token grid (class token passes) and
    the last `attn` channels through attention, concatenated; residual with stochastic depth; then LN + MLP."""

    def __init__(self, c, conv, attn, dpr):
        super().__init__()
        d = c["embedDim"]
        self.norm1 = nn.LayerNorm(d, eps=c["layerNormEps"])
        k = c["convKernel"]
        self.dw = nn.Conv2d(conv, conv, k, padding=k // 2, groups=conv, bias=False) if conv > 0 else None
        self.attn = Attention(attn, c["numHeads"], c["qkvBias"], True, c["attnDropout"], c["dropout"]) if attn else None
        self.norm2 = nn.LayerNorm(d, eps=c["layerNormEps"])
        self.mlp = Mlp(d, math.floor(d * c["mlpRatio"]), True, "gelu", c["dropout"])
        self.conv, self.dpr, self.attn_drop = conv, dpr, c["attnDropout"]

    def forward(self, x):
        xn = self.norm1(x)
        parts = []
        if self.dw is not None:
            b, t, _ = x.shape
            g = math.isqrt(t - 1)
            grid = xn[:, 1:, : self.conv].transpose(1, 2).reshape(b, self.conv, g, g)
            y = F.dropout(self.dw(grid), self.attn_drop, self.training).flatten(2).transpose(1, 2)
            parts.append(torch.cat([xn[:, :1, : self.conv], y], 1))
        if self.attn is not None:
            parts.append(self.attn(xn[:, :, self.conv:]))
        mixed = parts[0] if len(parts) == 1 else torch.cat(parts, 2)
        x = x + drop_path(mixed, self.dpr, self.training)
        return x + drop_path(self.mlp(self.norm2(x)), self.dpr, self.training)


class Eit(nn.Module):
    def __init__(self, c, extra):
        super().__init__()
        if not c["eitP"] or c["posEmbed"] != "none" or c["representationSize"]:
            raise UnsupportedConfig("the EIT twin implements eitP=true, posEmbed='none', representationSize=0")
        d, k = c["embedDim"], c["kernelSize"]
        self.patch_embed = nn.Conv2d(c["inChannels"], d, k, stride=c["strideSize"], padding=k // 2)
        self.pool = c["poolSize"]
        self.cls_token = nn.Parameter(torch.zeros(1, 1, d))
        n = len(extra["split"])
        self.blocks = nn.Sequential(*[EitBlock(c, s["conv"], s["attn"], linspace_rate(c["dropPath"], n, i))
                                      for i, s in enumerate(extra["split"])])
        self.norm = nn.LayerNorm(d, eps=c["layerNormEps"])
        self.head = nn.Linear(d, c["numClasses"])
        self.drop = c["dropout"]

    def forward(self, x):
        t = F.max_pool2d(self.patch_embed(x), self.pool).flatten(2).transpose(1, 2)
        t = torch.cat([self.cls_token.expand(t.shape[0], -1, -1), t], 1)
        t = self.norm(self.blocks(F.dropout(t, self.drop, self.training)))
        return self.head(t[:, 0]), None


# ------------------------------------------------------------------------------------------ MAE ViT (2402.03752)


class MaeVit(nn.Module):
    def __init__(self, c, extra):
        super().__init__()
        if c["blockOrder"] != "pre-norm":
            raise UnsupportedConfig(f"MaeVit blockOrder '{c['blockOrder']}': the twin implements pre-norm")
        d, p = c["embedDim"], c["patchSize"]
        self.p = p
        n = (c["imageSize"] // p) ** 2
        self.patch_embed = nn.Linear(c["inChannels"] * p * p, d, bias=c["patchBias"])
        self.pos_embed = nn.Parameter(torch.randn(n + 1, d) * c["posEmbedStd"])  # row n: the class patch, last
        hidden = round(c["mlpRatio"] * d)
        self.blocks = nn.Sequential(*[
            VitBlock(d, c["numHeads"], hidden, c["bias"], c["activation"], c["layerNormEps"], c["dropout"],
                     c["attnDropout"], linspace_rate(c["dropPath"], c["depth"], i))
            for i in range(c["depth"])])
        self.norm = nn.LayerNorm(d, eps=c["layerNormEps"])
        self.head = nn.Linear(d, c["numClasses"], bias=c["bias"])
        self.drop, self.head_drop = c["dropout"], c["headDropout"]

    def forward(self, x):
        t = self.patch_embed(chw_patches(x, self.p)) + self.pos_embed[:-1]
        cls = self.pos_embed[-1:]
        if self.patch_embed.bias is not None:
            cls = cls + self.patch_embed.bias
        t = F.dropout(torch.cat([t, cls.expand(t.shape[0], 1, -1)], 1), self.drop, self.training)
        t = self.norm(self.blocks(t))
        return self.head(F.dropout(t[:, -1], self.head_drop, self.training)), None


FAMILIES = {
    "VisionTransformer": VisionTransformer,
    "Mlit": Mlit,
    "MobileVmoe": MobileVmoe,
    "LocalVisionNet": LocalVisionNet,
    "Eit": Eit,
    "MaeVit": MaeVit,
}


def build(family, config, extra):
    if family not in FAMILIES:
        raise UnsupportedConfig(f"no PyTorch twin for model class '{family}' (twins: {', '.join(FAMILIES)})")
    return FAMILIES[family](config, extra or {})

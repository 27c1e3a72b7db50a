//! A fixed pinhole depth camera rendered by ray casting through rapier's query pipeline.

use crate::config::SceneConfig;
use crate::scene::Scene;

/// Precomputed unit ray directions for every pixel of the depth image.
#[derive(Clone, Debug)]
pub struct DepthCamera {
    origin: [f32; 3],
    /// Unit directions, shape `(height * width, 3)`, row-major from the top-left pixel.
    dirs: Vec<[f32; 3]>,
    max_depth: f32,
}

fn normalize(v: [f32; 3]) -> [f32; 3] {
    let n = (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]).sqrt().max(1e-12);
    [v[0] / n, v[1] / n, v[2] / n]
}

fn cross(a: [f32; 3], b: [f32; 3]) -> [f32; 3] {
    [
        a[1] * b[2] - a[2] * b[1],
        a[2] * b[0] - a[0] * b[2],
        a[0] * b[1] - a[1] * b[0],
    ]
}

impl DepthCamera {
    /// The camera described by `cfg` (position, target, vertical field of view, image size).
    pub fn new(cfg: &SceneConfig) -> Self {
        let (w, h) = (cfg.depth_width, cfg.depth_height);
        let fwd = normalize([
            cfg.camera_target[0] - cfg.camera_pos[0],
            cfg.camera_target[1] - cfg.camera_pos[1],
            cfg.camera_target[2] - cfg.camera_pos[2],
        ]);
        // World z is up; a camera looking straight down falls back to world y as its up.
        let mut right = cross(fwd, [0.0, 0.0, 1.0]);
        if right.iter().map(|v| v * v).sum::<f32>() < 1e-8 {
            right = cross(fwd, [0.0, 1.0, 0.0]);
        }
        let right = normalize(right);
        let up = cross(right, fwd);
        let tan_y = (cfg.camera_fov_deg.to_radians() / 2.0).tan();
        let tan_x = tan_y * w as f32 / h as f32;
        let mut dirs = Vec::with_capacity(w * h);
        for row in 0..h {
            let v = 1.0 - 2.0 * (row as f32 + 0.5) / h as f32;
            for col in 0..w {
                let u = 2.0 * (col as f32 + 0.5) / w as f32 - 1.0;
                dirs.push(normalize([
                    fwd[0] + u * tan_x * right[0] + v * tan_y * up[0],
                    fwd[1] + u * tan_x * right[1] + v * tan_y * up[1],
                    fwd[2] + u * tan_x * right[2] + v * tan_y * up[2],
                ]));
            }
        }
        Self {
            origin: cfg.camera_pos,
            dirs,
            max_depth: cfg.max_depth,
        }
    }

    /// Number of pixels.
    pub fn pixels(&self) -> usize {
        self.dirs.len()
    }

    /// Renders the scene's depth image into `out`, shape `(height * width,)`, metres along each
    /// ray, `max_depth` where nothing is hit.
    pub fn render(&self, scene: &Scene, out: &mut [f32]) {
        for (d, dir) in out.iter_mut().zip(&self.dirs) {
            *d = scene
                .cast_ray(self.origin, *dir, self.max_depth)
                .unwrap_or(self.max_depth);
        }
    }
}

/*
 * FANN 2.2 (double build) as a benchmark peer: builds a network, trains it online and times the
 * epoch loop here, in C, so that no Python runs inside the clock. Compiled by benchmarks/native.py
 * with the system C compiler (cc -O2 -shared -fPIC fann_shim.c -ldoublefann -lm) and loaded with
 * ctypes. Debian ships the library as libfann-dev (apt-get install libfann-dev).
 *
 * The network is the notes' network in FANN's terms:
 *   - fann_create_standard_array: fully connected layers, a bias neuron (value 1) per layer;
 *   - FANN_SIGMOID with steepness s = 0.5 on hidden and output neurons. FANN computes
 *     1/(1 + exp(-2 s z)) (fann_sigmoid_real(s z) in fann_activation.h), so s = 0.5 is the
 *     logistic 1/(1 + e^(-z)) bit for bit (0.5 z and 2 (0.5 z) are exact);
 *   - FANN_ERRORFUNC_LINEAR: the output error is e = y - y_hat as it is (the TANH error function
 *     would replace it by log((1 + e)/(1 - e)));
 *   - the output delta is f'(y_hat) e with f' = fann_sigmoid_derive(s, v) = 2 s v (1 - v), which is
 *     v (1 - v) for s = 0.5 (2 s = 1 exactly): the notes' delta^[L] = e (.) f'(Z^[L]);
 *   - the hidden deltas are (sum_k w_jk delta_k) f'(h_j), computed from the weights *before* the
 *     update (fann_backpropagate_MSE runs before fann_update_weights): the notes' rule;
 *   - FANN_TRAIN_INCREMENTAL with learning momentum 0: fann_update_weights adds
 *     learning_rate * delta_j * h_i to w_ij (bias: h_i = 1), i.e. W <- W + alpha H^T delta. The
 *     step is not divided by the number of outputs or samples, so FANN's learning rate is the
 *     notes' alpha, and the same alpha trains the same way.
 * One difference remains, by FANN's design (fann_activation_derived in fann_train.c): before
 * evaluating f' = v (1 - v) it clips v to [0.01, 0.99], so f' never falls below 0.0099 ("flat-spot"
 * avoidance). From the same start and order FANN's weights therefore drift from the notes'
 * algorithm's wherever a unit saturates; the benchmark checks accuracy, not weights, against it.
 *
 * Parameter layout shared with Python (bpcore's): for each layer l = 1..L, W^[l] of shape
 * (n_{l-1}, n_l) row-major, then b^[l] (n_l). In FANN, neuron j of layer l has the connections
 * first_con .. last_con - 1: one from each neuron of layer l - 1 in order, then the bias neuron
 * (the last neuron of layer l - 1).
 */
#include <doublefann.h>
#include <stdlib.h>
#include <time.h>

#define SHIM_OK 0
#define SHIM_E_CREATE 1
#define SHIM_E_LAYOUT 2
#define SHIM_E_DATA 3
#define SHIM_E_ORDER 4

static double now_seconds(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* to_fann = 1: flat -> ann->weights; 0: ann->weights -> flat. Returns SHIM_E_LAYOUT when the
 * network's connections are not those of fully connected layers of the given sizes. */
static int copy_weights(struct fann *ann, unsigned n_layers, const unsigned *sizes, double *flat,
                        int to_fann) {
  size_t off = 0;
  unsigned l, i, j;
  if (fann_get_num_layers(ann) != n_layers) return SHIM_E_LAYOUT;
  for (l = 1; l < n_layers; ++l) {
    struct fann_layer *layer = ann->first_layer + l;
    const unsigned n_in = sizes[l - 1], n_out = sizes[l];
    if ((unsigned)(layer->last_neuron - layer->first_neuron) != n_out + 1) return SHIM_E_LAYOUT;
    for (j = 0; j < n_out; ++j) {
      struct fann_neuron *neuron = layer->first_neuron + j;
      fann_type *w = ann->weights + neuron->first_con;
      if (neuron->last_con - neuron->first_con != n_in + 1) return SHIM_E_LAYOUT;
      for (i = 0; i < n_in; ++i) {
        if (to_fann)
          w[i] = flat[off + (size_t)i * n_out + j];
        else
          flat[off + (size_t)i * n_out + j] = w[i];
      }
      if (to_fann)
        w[n_in] = flat[off + (size_t)n_in * n_out + j];
      else
        flat[off + (size_t)n_in * n_out + j] = w[n_in];
    }
    off += (size_t)n_in * n_out + n_out;
  }
  return SHIM_OK;
}

/* Trains a sizes[0]-...-sizes[n_layers-1] network on X (n, d) and Y (n, q), row-major, for
 * `epochs` epochs of online BP with learning rate `lr`.
 *   init     the initial parameters (layout above), or NULL for FANN's own uniform +-0.1;
 *   orders   NULL: fann_shuffle_train_data before each epoch, then fann_train_epoch (the
 *            benchmark); else epochs x n row indices, the rows visited in that order by fann_train
 *            (the same-start-same-order comparison);
 *   seed     srand(seed) once the network exists, so FANN's rand() (its +-0.1 initial weights,
 *            fann_shuffle_train_data) repeats;
 *   params_out  the trained parameters (layout above);
 *   outputs_out NULL or (n, q): the trained network's outputs on X;
 *   seconds_out the wall time of the epoch loop (CLOCK_MONOTONIC).
 * Returns SHIM_OK or one of the SHIM_E_* codes. */
int fann_shim_train(unsigned n_layers, const unsigned *sizes, const double *init,
                    const int *orders, unsigned seed, unsigned n, const double *X, const double *Y,
                    double lr, unsigned epochs, double *params_out, double *outputs_out,
                    double *seconds_out) {
  struct fann *ann;
  struct fann_train_data *data;
  const unsigned d = sizes[0], q = sizes[n_layers - 1];
  unsigned e, r, k;
  double t0;
  int rc = SHIM_OK;

  ann = fann_create_standard_array(n_layers, sizes);
  if (ann == NULL) return SHIM_E_CREATE;
  /* fann_create_* seeds rand() itself (fann_seed_rand, from /dev/urandom or the clock), so the
   * seed is set after it: FANN's initial weights and its shuffles then repeat from run to run. */
  srand(seed);
  fann_set_activation_function_hidden(ann, FANN_SIGMOID);
  fann_set_activation_function_output(ann, FANN_SIGMOID);
  fann_set_activation_steepness_hidden(ann, 0.5);
  fann_set_activation_steepness_output(ann, 0.5);
  fann_set_train_error_function(ann, FANN_ERRORFUNC_LINEAR);
  fann_set_training_algorithm(ann, FANN_TRAIN_INCREMENTAL);
  fann_set_learning_momentum(ann, 0.0f);
  fann_set_learning_rate(ann, (float)lr);
  if (init != NULL) {
    rc = copy_weights(ann, n_layers, sizes, (double *)init, 1);
  } else {
    fann_randomize_weights(ann, -0.1, 0.1);
  }
  if (rc != SHIM_OK) {
    fann_destroy(ann);
    return rc;
  }
  data = fann_create_train(n, d, q);
  if (data == NULL) {
    fann_destroy(ann);
    return SHIM_E_DATA;
  }
  for (r = 0; r < n; ++r) {
    for (k = 0; k < d; ++k) data->input[r][k] = X[(size_t)r * d + k];
    for (k = 0; k < q; ++k) data->output[r][k] = Y[(size_t)r * q + k];
  }
  if (orders != NULL) {
    for (r = 0; r < (size_t)epochs * n; ++r)
      if (orders[r] < 0 || (unsigned)orders[r] >= n) rc = SHIM_E_ORDER;
  }
  if (rc == SHIM_OK) {
    t0 = now_seconds();
    if (orders == NULL) {
      for (e = 0; e < epochs; ++e) {
        fann_shuffle_train_data(data);
        fann_train_epoch(ann, data);
      }
    } else {
      for (e = 0; e < epochs; ++e) {
        const int *order = orders + (size_t)e * n;
        for (r = 0; r < n; ++r) fann_train(ann, data->input[order[r]], data->output[order[r]]);
      }
    }
    *seconds_out = now_seconds() - t0;
    rc = copy_weights(ann, n_layers, sizes, params_out, 0);
  }
  if (rc == SHIM_OK && outputs_out != NULL) {
    for (r = 0; r < n; ++r) {
      fann_type *out = fann_run(ann, (fann_type *)(X + (size_t)r * d));
      for (k = 0; k < q; ++k) outputs_out[(size_t)r * q + k] = out[k];
    }
  }
  fann_destroy_train(data);
  fann_destroy(ann);
  return rc;
}

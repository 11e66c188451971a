/* Global-dynamic TLS in a library the test dlopens after threads exist. */
__attribute__((tls_model("global-dynamic"))) __thread int tv_dl_gd = 4321;
int *tls_dl_gd_addr(void)
{
    return &tv_dl_gd;
}

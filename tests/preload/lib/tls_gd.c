/* A shared library with global-dynamic TLS, linked by the test program. */
__attribute__((tls_model("global-dynamic"))) __thread int tv_gd = 9;
int *tls_gd_addr(void)
{
    return &tv_gd;
}

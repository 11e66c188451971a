/* A shared library with initial-exec TLS, linked by the test program. */
__attribute__((tls_model("initial-exec"))) __thread int tv_ie = 7;
int *tls_ie_addr(void)
{
    return &tv_ie;
}

module github.com/libinfer/infer-go

go 1.24

module gowrite
go 1.19
